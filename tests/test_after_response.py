"""``reassort.web.after_response``: deferred work runs after the last byte of the answer, once, whether
the server consumes the body or closes it (werkzeug's server skips ``close()`` on a reset connection),
in an app context of its own; a failure is logged and the server goes on."""

from __future__ import annotations

import logging

import pytest
from flask import Blueprint

from reassort import runtime
from reassort.web import after_response

ran: list = []


def job(_session, name):
    ran.append((name, runtime.client_hash()))


def failing(_session):
    raise RuntimeError("panne")


@pytest.fixture
def served(settings):
    from app import create_app

    app = create_app(settings)
    bp = Blueprint("test_after", __name__)

    @bp.get("/_differe")
    def deferred():
        after_response.defer(job, "un")
        after_response.defer(job, "deux")
        return "réponse"

    @bp.get("/_echec")
    def fails():
        after_response.defer(failing)
        after_response.defer(job, "après l'échec")
        return "réponse"

    app.register_blueprint(bp)
    ran.clear()
    return app


def test_the_work_waits_for_the_answer_then_runs_once_in_order(served):
    client = served.test_client()
    response = client.get("/_differe")
    assert ran == []  # the answer is ready, nothing has run
    assert response.get_data(as_text=True) == "réponse"  # the server consumed the body
    assert [name for name, _ in ran] == ["un", "deux"]
    response.close()  # and then closed it: nothing runs twice
    assert [name for name, _ in ran] == ["un", "deux"]
    assert ran[0][1] is not None  # the request's client hash, for the audit trail


def test_the_work_runs_when_the_server_only_closes_the_body(served):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/_differe", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1", "wsgi.input": None, "wsgi.errors": None}
    body = served.wsgi_app(environ, lambda *_: None)
    assert ran == []
    body.close()
    assert [name for name, _ in ran] == ["un", "deux"]


def test_a_failing_job_is_logged_and_the_next_one_runs(served, caplog):
    caplog.set_level(logging.ERROR, "reassort")
    response = served.test_client().get("/_echec", buffered=True)
    assert response.status_code == 200
    assert [name for name, _ in ran] == ["après l'échec"]
    assert "travail différé après la réponse en échec : failing" in caplog.text
