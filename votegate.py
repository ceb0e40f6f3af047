"""The vote-code gate: does the typed code open the voting space?"""

from __future__ import annotations

from flask import current_app

import codes
from hashing import digest, digest_equal
from models import Voter

PURPOSE = "vote-code"


def code_digest(code: str) -> str:
    return digest(current_app.config["HASH_PEPPER"], PURPOSE, code)


def code_matches(voter: Voter, typed: str) -> bool:
    return digest_equal(voter.code_digest, code_digest(codes.clean_entry(typed)))
