"""SEC-45: a portal session ends ``SESSION_MAX_SECONDS`` after login, whatever the activity."""

from __future__ import annotations


def test_sec45_a_busy_session_still_ends_at_its_absolute_lifetime(app, logged_in, clock):
    client, _, _ = logged_in
    step = 20 * 60  # a request every 20 minutes: never idle (SESSION_IDLE_SECONDS = 30 min)
    lifetime = app.config["SESSION_MAX_SECONDS"]
    elapsed = 0
    while elapsed + step <= lifetime:
        clock.advance(step)
        elapsed += step
        assert client.get("/").status_code == 200, elapsed
    clock.advance(step)
    assert client.get("/").status_code == 302  # to the login page
    assert client.get("/").status_code == 302  # and it stays ended


def test_sec45_the_limit_is_counted_from_the_login(settings, request, clock):
    settings["SESSION_MAX_SECONDS"] = 3600
    client, _, _ = request.getfixturevalue("logged_in")
    clock.advance(1800)
    assert client.get("/").status_code == 200
    clock.advance(1800)
    assert client.get("/").status_code == 200  # exactly at the limit
    clock.advance(1)
    assert client.get("/").status_code == 302


def test_sec45_a_session_without_a_login_time_has_ended(logged_in):
    client, _, _ = logged_in
    with client.session_transaction() as session:
        session.pop("since")  # a cookie from before the rule
    assert client.get("/").status_code == 302
