"""SEC-19: concurrent POSTs of one link produce exactly one new code (compare-and-swap)."""

import threading

import pytest

from reassort.procedures import votegate
from tests.conftest import CODE, csrf_of, get_voter
from tests.flows import ask_link, code_on_page, last_link, open_link

pytestmark = pytest.mark.each_database

THREADS = 20


def test_sec19_twenty_concurrent_posts_of_one_link_make_exactly_one_code(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    ask_link(client)
    open_link(client, last_link(outbox()))
    page = client.get("/reassort/regenerer")
    token = csrf_of(page)
    cookie = client.get_cookie("reassort_session").value
    barrier = threading.Barrier(THREADS)
    results = [None] * THREADS

    def post(i):
        c = app.test_client()
        c.set_cookie("reassort_session", cookie)
        barrier.wait()
        results[i] = c.post("/reassort/regenerer", data={"csrf_token": token})

    threads = [threading.Thread(target=post, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [r for r in results if r is not None and r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in results if r is not None]
    assert all(r.status_code in (400, 503) for r in results if r is not winners[0])
    new_code = code_on_page(winners[0])
    with app.app_context():
        voter = get_voter(app, voter_id)
        assert votegate.code_matches(voter, new_code) and not votegate.code_matches(voter, CODE)
    notices = [m for m in outbox() if "modifié" in m["subject"]]
    assert len(notices) == 1
