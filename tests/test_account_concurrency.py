"""SEC-41 for the forgotten-password and activation links: simultaneous requests never send more than
allowed — the voter's ``LINKS_PER_HOUR`` (a row of the database), the per-address limit and the global
e-mail cap (the limiter's storage: memory://, then Redis).  Each race releases its threads together."""

from __future__ import annotations

import pytest

from tests.account_flows import PAGES
from tests.conftest import csrf_of, get_voter
from tests.test_counters import events, limiter_storage, race  # noqa: F401  (a fixture)

pytestmark = pytest.mark.each_database

THREADS = 10


@pytest.fixture(autouse=True)
def room_for_every_send(settings):
    # These races are about the counters: the bound on sends in flight per worker
    # (DELIVERY_IN_FLIGHT, tests/test_rush.py) must not be what refuses a send here.
    settings["DELIVERY_IN_FLIGHT"] = THREADS


def ready_clients(app, n: int, form: str = "password") -> list[tuple]:
    """``n`` browsers, each with the form open (its CSRF token)."""
    clients = []
    for _ in range(n):
        c = app.test_client()
        clients.append((c, csrf_of(c.get(PAGES[form]))))
    return clients


def concurrent_requests(app, emails: list[str], form: str = "password") -> list[int]:
    """One POST per address in ``emails``, all at once; closed (the mails leave); their statuses."""
    clients = ready_clients(app, len(emails), form)

    def post(i):
        c, token = clients[i]
        return c.post(PAGES[form], data={"email": emails[i], "csrf_token": token}, buffered=True).status_code

    return race(len(emails), post)


@pytest.mark.parametrize("form", ["password", "activation"])
def test_sec41_ten_concurrent_requests_send_at_most_links_per_hour(settings, request, form):
    settings.update(LINKS_PER_HOUR=3, ACCOUNT_LINKS_PER_ADDRESS="100 per hour")
    app = request.getfixturevalue("app")
    outbox = request.getfixturevalue("outbox")
    voter_id = request.getfixturevalue("make_voter")(activated=form == "password")
    email = get_voter(app, voter_id).email
    statuses = concurrent_requests(app, [email] * THREADS, form)
    assert statuses == [303] * THREADS  # one answer for all, whatever happened after it
    assert len(outbox()) == 3
    assert get_voter(app, voter_id).links_in_window == 3
    assert events(app, "throttled", "account_links_per_hour") == THREADS - 3


def test_sec41_ten_concurrent_requests_hold_the_per_address_limit(limiter_storage, settings, request):  # noqa: F811
    settings.update(ACCOUNT_LINKS_PER_ADDRESS="3 per hour", LINKS_PER_HOUR=100)
    app = request.getfixturevalue("app")
    email = get_voter(app, request.getfixturevalue("make_voter")()).email
    statuses = concurrent_requests(app, [email] * THREADS)
    assert sorted(statuses) == [303] * 3 + [429] * (THREADS - 3)
    assert len(request.getfixturevalue("outbox")()) == 3


def test_sec41_concurrent_requests_hold_the_global_email_cap(limiter_storage, settings, request):  # noqa: F811
    settings["EMAIL_SENDS_PER_HOUR"] = 3
    app = request.getfixturevalue("app")
    make_voter = request.getfixturevalue("make_voter")
    voters = [make_voter() for _ in range(THREADS)]
    statuses = concurrent_requests(app, [get_voter(app, v).email for v in voters])
    assert statuses == [303] * THREADS
    assert len(request.getfixturevalue("outbox")()) == 3
    assert events(app, "throttled", "account_global_cap_email") == THREADS - 3
    # The voters refused by the cap were not charged a link.
    assert sorted(get_voter(app, v).links_in_window for v in voters) == [0] * (THREADS - 3) + [1] * 3
