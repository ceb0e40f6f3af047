"""``service suspend --message … --operator NAME`` / ``service resume --operator NAME`` / ``service status``.

Shared by every worker and VM (a row of the database); each worker sees a change within
``SUSPENSION_CHECK_SECONDS``.  While suspended every voter page shows the message (503);
the probes and the metrics still answer.  Each change is audited with the operator's name.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from reassort import runtime
from reassort.cli.voters import database_problem, fail
from reassort.procedures import helpdesk, service
from reassort.web.extensions import db

group = AppGroup("service", help="Suspendre ou rouvrir le service aux électeurs.")


def register(app: Flask) -> None:
    app.cli.add_command(group)


def _operator(name: str) -> str:
    try:
        return helpdesk.check_operator(name)
    except helpdesk.Refused as refused:
        fail(str(refused))
        raise


@group.command("suspend")
@click.option("--message", required=True, metavar="TEXTE",
              help="Message public affiché aux électeurs à la place des formulaires (500 caractères au plus).")
@click.option("--operator", required=True, metavar="NOM", help="Qui suspend ; écrit dans le journal d'audit.")
def suspend(message: str, operator: str) -> None:
    """Affiche MESSAGE à la place des formulaires, sur chaque worker et chaque VM, jusqu'à « service resume »."""
    operator = _operator(operator)
    session = db.new_session()
    try:
        service.suspend(session, message, operator)
    except ValueError as exc:
        fail(f"--message : {exc}")
    except SQLAlchemyError as exc:
        fail(database_problem(exc))
    finally:
        session.close()
    delay = runtime.setting("SUSPENSION_CHECK_SECONDS")
    click.echo(f"Service suspendu : chaque worker affiche le message d'ici {delay:g} s. "
               "« flask --app app service resume --operator … » pour rouvrir.")


@group.command("resume")
@click.option("--operator", required=True, metavar="NOM", help="Qui rouvre ; écrit dans le journal d'audit.")
def resume(operator: str) -> None:
    """Rouvre les formulaires aux électeurs."""
    operator = _operator(operator)
    session = db.new_session()
    try:
        service.resume(session, operator)
    except SQLAlchemyError as exc:
        fail(database_problem(exc))
    finally:
        session.close()
    click.echo("Service rouvert.")


@group.command("status")
def status() -> None:
    """Dit si le service est suspendu, et avec quel message."""
    session = db.new_session()
    try:
        state = service.read(session)
    except SQLAlchemyError as exc:
        fail(database_problem(exc))
    finally:
        session.close()
    click.echo(f"Suspendu : « {state.message} »" if state.suspended else "Ouvert.")
