"""The vote-code gate: does the typed code open the voting space?"""

from __future__ import annotations

from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit, poll, register
from reassort.rules import codes
from reassort.rules.hashing import digest, digest_equal
from reassort.storage.models import Voter

PURPOSE = "vote-code"

OPENED = "opened"
REFUSED = "refused"              # wrong code or wrong CAPTCHA: one message
OUTSIDE_WINDOW = "outside_window"


def code_digest(code: str) -> str:
    """The keyed digest stored for ``code`` (SEC-29): HMAC under the pepper."""
    return digest(runtime.pepper(), PURPOSE, code)


def code_matches(voter: Voter, typed: str) -> bool:
    return digest_equal(voter.code_digest, code_digest(codes.clean_entry(typed)))


def try_code(s: Session, voter: Voter, typed: str, captcha_ok: bool) -> str:
    """Check a typed code (and the CAPTCHA's verdict), audit the attempt, say what follows."""
    if register.is_deactivated(voter):
        # Struck off the register: refused like a wrong code (the session ended already, in any case).
        outcome, event, detail = REFUSED, "code_failed", "deactivated"
    elif not poll.is_open():
        outcome, event, detail = OUTSIDE_WINDOW, "code_outside_window", None
    elif captcha_ok and code_matches(voter, typed):
        outcome, event, detail = OPENED, "code_ok", None
    else:
        outcome, event, detail = REFUSED, "code_failed", None if captcha_ok else "captcha"
    audit.record(s, event, voter.id, detail)
    s.commit()
    return outcome
