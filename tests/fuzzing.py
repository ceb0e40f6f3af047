"""Hypothesis profiles, strategies and checks shared by the fuzz tests (``tests/test_fuzz_*.py``).

Profiles, chosen with ``REASSORT_TEST_FUZZ_PROFILE``:

- ``fuzz`` (default, CI): a few dozen examples per test so the whole suite stays fast;
- ``fuzz-deep``: ten times more, for a night run or before a release.

Both have no deadline (the first request of an app compiles templates; PostgreSQL
round trips vary) and no example database (nothing is written into the checkout:
a failure prints the ``@reproduce_failure`` blob instead).

Each fuzz test builds its app once (the function-scoped ``app`` fixture) and
reuses it across examples, as a server lives through many requests: Hypothesis's
``function_scoped_fixture`` health check is silenced on purpose for that.
"""

from __future__ import annotations

import io
import json
import os
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

settings.register_profile("fuzz", max_examples=40, deadline=None, database=None, print_blob=True)
settings.register_profile("fuzz-deep", max_examples=400, deadline=None, database=None, print_blob=True)
PROFILE = os.environ.get("REASSORT_TEST_FUZZ_PROFILE", "fuzz")


def fuzz_settings(scale: float = 1.0) -> settings:
    """The chosen profile, its example count scaled by ``scale`` (cheap tests run more)."""
    base = settings.get_profile(PROFILE)
    return settings(
        base, max_examples=max(5, int(base.max_examples * scale)),
        # The app is built once per test function and shared by its examples on purpose
        # (see the module docstring); too_slow: PostgreSQL examples are slower to make.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


#: Limits raised so that every example reaches the form's logic instead of a 429;
#: the limiter stays on, so its keys are still computed from the fuzzed input.
OPEN_LIMITS = {
    "RATELIMIT_PER_IP": "100000 per minute",
    "LINK_OPEN_LIMIT_PER_IP": "100000 per minute",
    "LOGIN_LIMIT_PER_ACCOUNT": "100000 per minute",
    "VOTE_CODE_LIMIT_PER_VOTER": "100000 per minute",
    "CHALLENGE_LIMIT_PER_VOTER": "100000 per minute",
    "ACCOUNT_LINKS_PER_ADDRESS": "100000 per minute",
    "ACCOUNT_LIMIT_PER_VOTER": "100000 per minute",
    "CHALLENGE_MAX_FAILURES": 1_000_000,
    "LINKS_PER_HOUR": 1_000_000,
}

# -- text ------------------------------------------------------------------------

#: Any code point a browser can send: everything but surrogates, which UTF-8
#: cannot encode (weird *bytes* are covered by ``raw_value`` below).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
control_text = st.text(st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Zs")), min_size=1, max_size=40)
mixed_scripts = st.text(st.characters(categories=("Lu", "Ll", "Lo", "Lm", "Mn", "Nd", "So")), min_size=1,
                        max_size=60)
huge_text = st.builds(lambda unit, n: (unit * n)[:n], st.text(st.characters(exclude_categories=("Cs",)),
                                                              min_size=1, max_size=4),
                      st.sampled_from([300, 5_000, 100_000]))
NASTY = [
    "", " ", "\x00", "a\x00b", "\x00" * 64, "\r\n", "\t", "\u202e", "\ufeff", "\u200b", "İ", "ß", "ﬃ",
    "ǅ", "🗳️", "👩🏽‍🏫", "Ａｂ３＃", "' OR '1'='1", "\"; DROP TABLE voters; --", "{{ 7*7 }}", "{% raw %}",
    "<script>alert(1)</script>", "%00", "%", "../../etc/passwd", "\\", "@", "a@b", "@@", "x" * 73,
    "é" * 40, "0" * 13, "12E1234567ABC", "12e 1234 567 abc", "2620875107", "2A62087510", "1 75 03 69 123",
    "06 12 34 56 78", "+33612345678", "+590 690 12 34 56", "0612345678" * 4, "jeanne.perso@exemple.org",
    "JEANNE.PERSO@EXEMPLE.ORG", "a@[127.0.0.1]", "a@localhost", "q1", "q9", "sms", "email", "SMS",
    "Éléonore", "  éléonore  ", "ELEONORE", "Ab3#Cd4$Ef5%", "null", "None", "true", "[]", "{}",
]
#: Text with a NUL inside: valid UTF-8 and valid in a form, but PostgreSQL refuses it in a text parameter.
with_nul = st.builds(lambda head, tail: head + "\x00" + tail, any_text, any_text)
field_text = st.one_of(any_text, control_text, mixed_scripts, huge_text, with_nul, st.sampled_from(NASTY))

#: Byte strings that are not, or not quite, UTF-8: what a broken client or an
#: attacker can put in a body (lone and encoded surrogates, overlong forms, NUL).
BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xc0\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf",
             b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xe2\x82", b"\x00", b"%", b"%zz", b"+"]
raw_value = st.one_of(st.binary(max_size=120), st.lists(st.sampled_from(BAD_BYTES), min_size=1, max_size=8)
                      .map(b"".join), field_text.map(lambda t: t.encode("utf-8")))

json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)),
    max_leaves=8)


# -- request bodies ------------------------------------------------------------------

#: The multipart boundary: fixed, and no drawn text holds it.
MULTIPART_BOUNDARY = "reassort-fuzz-7f3c9a1e5b2d4c6e8a0b9d1f3e5c"


@st.composite
def form_submission(draw, fields: dict, csrf: str) -> dict:
    """Keyword arguments for ``client.post``: a form submission, most often mangled.

    ``fields`` maps each field name to a strategy of plausible values.  The body is
    url-encoded text (fields missing, repeated, extra), url-encoded raw bytes,
    multipart with fields sent as files, or JSON (with the CSRF header).
    """
    token = draw(st.one_of(st.just(csrf), st.just(csrf), st.just(csrf), field_text))
    values = {}
    for name, plausible in fields.items():
        choice = draw(st.sampled_from(["plausible", "plausible", "fuzz", "missing", "repeated"]))
        if choice == "plausible":
            values[name] = draw(plausible)
        elif choice == "fuzz":
            values[name] = draw(field_text)
        elif choice == "repeated":
            values[name] = draw(st.lists(st.one_of(plausible, field_text), min_size=2, max_size=3))
    for name in draw(st.lists(st.sampled_from(["x", "csrf_token", "email", "code", "submit", ""]), max_size=2)):
        values.setdefault(name, draw(field_text))
    kind = draw(st.sampled_from(["form", "form", "raw", "multipart", "json"]))
    if kind == "form":
        return {"data": {"csrf_token": token, **values}}
    if kind == "raw":
        pairs = [(b"csrf_token", token.encode())]
        pairs += [(name.encode(), draw(raw_value)) for name in values]
        body = b"&".join(quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode() for k, v in pairs)
        if draw(st.booleans()):
            body += b"&" + draw(st.lists(st.sampled_from(BAD_BYTES), max_size=4).map(b"".join))
        return {"data": body, "content_type": "application/x-www-form-urlencoded"}
    if kind == "multipart":
        data: dict = {"csrf_token": token}
        for name, value in values.items():
            if draw(st.booleans()):
                data[name] = FileStorage(io.BytesIO(draw(st.binary(max_size=64))),
                                         filename=draw(st.sampled_from(["a.txt", "", "x.png"])))
            else:
                data[name] = value
        # Encoded here, in memory: the test client would spool a body over 500 kB (three huge
        # fields) to a temporary file that it never closes (a ResourceWarning, later, anywhere).
        # A fixed boundary: werkzeug's own comes from ``random``, which Hypothesis forbids here.
        boundary, body = encode_multipart(data, boundary=MULTIPART_BOUNDARY)
        return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}
    body = draw(st.one_of(st.dictionaries(st.sampled_from(list(fields) + ["csrf_token"]), json_value),
                          json_value))
    text = json.dumps(body) if draw(st.integers(0, 5)) else json.dumps(body)[:-1]  # now and then broken
    # A header carries printable ASCII only (HTTP); the body above took any text.
    header = token if all(" " <= c <= "~" for c in token) else csrf
    return {"data": text, "content_type": "application/json", "headers": {"X-CSRFToken": header}}


# -- checks ----------------------------------------------------------------------------

#: What a form may answer: the page (200, with its errors), a redirect, a refusal
#: (400), a body too big to be read (413), a throttle (429), the database or a
#: channel unavailable (503).  Never 500.
FORM_STATUSES = {200, 302, 303, 400, 413, 429, 503}


def assert_clean(response, allowed=FORM_STATUSES) -> None:
    """Status allowed, and an error page is one of ours: in French, no traceback."""
    body = response.get_data()
    assert response.status_code in allowed, (response.status_code, body[:300])
    assert b"Traceback" not in body
    if response.status_code >= 400:
        assert b'<html lang="fr">' in body, body[:300]
