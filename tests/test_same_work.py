"""SEC-02: the login and the question défi do the same work on every path.

Django's way (``CountingMD5PasswordHasher``): rather than time the paths, which is
noisy on a shared machine (``bench/timing.py`` does that), count the expensive
calls each path makes and demand the same counts everywhere.  A dummy bcrypt check
dropped for an unknown voter, or an early exit after a wrong answer (which skips
the NUMEN/NIR digests) or before bcrypt, changes a count and fails here.
"""

import bcrypt
import pytest

from reassort.rules import identifiers
from tests.conftest import ANSWER, NIR10, NUMEN, PASSWORD, get_voter, login
from tests.flows import ask_link


@pytest.fixture
def work(monkeypatch):
    """Counts of bcrypt checks and of keyed identifier digests made since the last reset."""
    counts = {"bcrypt": 0, "digest": 0}
    real_checkpw, real_digest = bcrypt.checkpw, identifiers.digest

    def checkpw(*args, **kwargs):
        counts["bcrypt"] += 1
        return real_checkpw(*args, **kwargs)

    def digest(*args, **kwargs):
        counts["digest"] += 1
        return real_digest(*args, **kwargs)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    monkeypatch.setattr(identifiers, "digest", digest)

    def taken():
        seen = dict(counts)
        counts.update(bcrypt=0, digest=0)
        return seen

    return taken


LOGIN_PATHS = {
    "unknown address": ("personne@education.gouv.fr", PASSWORD),
    "address with a NUL": ("agent1\x00@education.gouv.fr", PASSWORD),
    "wrong password": (None, "pas le bon mot de passe"),
    "right": (None, PASSWORD),
}


def test_sec02_login_does_one_bcrypt_check_on_every_path(client, make_voter, work):
    email = get_voter(client.application, make_voter()).email
    seen = {}
    for path, (typed, password) in LOGIN_PATHS.items():
        client.get("/connexion")
        work()
        response = login(client, typed or email, password)
        seen[path] = work()["bcrypt"]
        assert response.status_code == (302 if path == "right" else 200), path
    assert seen == dict.fromkeys(LOGIN_PATHS, 1)


# (An identifier of no valid shape is refused by the form before any secret is read: a
# matter of shape, the same for every voter, so not a path here.)
CHALLENGE_PATHS = {
    "no answer on record": {"answer_hash": None},
    "wrong answer": {"answer": "mauvaise réponse"},
    "wrong NUMEN": {"identifier": "99Z9999999ZZZ"},
    "wrong NIR prefix": {"identifier": "1991275107"},
    "both wrong": {"answer": "mauvaise réponse", "identifier": "99Z9999999ZZZ"},
    "right, NUMEN": {},
    "right, NIR prefix": {"identifier": NIR10},
}


@pytest.mark.parametrize("path", CHALLENGE_PATHS)
def test_sec02_challenge_does_the_same_work_on_every_path(app, make_voter, outbox, work, path):
    typed = dict(CHALLENGE_PATHS[path])
    record = {"answer_hash": typed.pop("answer_hash")} if "answer_hash" in typed else {}
    email = get_voter(app, make_voter(**record)).email
    client = app.test_client()
    assert login(client, email).status_code == 302
    client.get("/reassort/question-defi")
    work()
    ask_link(client, **{"answer": ANSWER, "identifier": NUMEN, **typed})
    # One bcrypt check of the answer, then both keyed digests (NUMEN and NIR prefix), whatever was typed.
    assert work() == {"bcrypt": 1, "digest": 2}
    assert len(outbox()) == (1 if path.startswith("right") else 0)
