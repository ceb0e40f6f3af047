"""Vote codes as voters see and type them (SPEC §2, amended by issue 13): groups of four, entry
ignoring every space, no « - » in the alphabet, codes issued before still working."""

import csv
import math

import pytest

from reassort.procedures import votegate
from reassort.rules import codes
from tests.conftest import get_voter

SPACES = [" ", "\u00a0", "\u202f", "\u2009", "\u2007", "\t", "\n", "\u200b", "\ufeff"]


def test_sec28_alphabet_has_no_dash_and_keeps_72_5_bits():
    assert "-" not in codes.ALPHABET and len(set(codes.ALPHABET)) == len(codes.ALPHABET) == 66
    assert codes.LENGTH * math.log2(len(codes.ALPHABET)) > 72.5
    assert all("-" not in codes.generate() for _ in range(500))


@pytest.mark.parametrize("space", SPACES, ids=[f"U+{ord(s):04X}" for s in SPACES])
def test_entry_ignores_every_kind_of_space_inside_and_around(space):
    code = "Ab3#Cd4$Ef5%"
    assert codes.clean_entry(space + space.join(codes.groups(code)) + space) == code


def test_entry_keeps_the_case_and_the_dash_of_older_codes():
    assert codes.clean_entry(" ab3#CD4$ef5% ") == "ab3#CD4$ef5%"
    assert codes.clean_entry("Ab3- Cd4$ Ef5%") == "Ab3-Cd4$Ef5%"


def test_codes_are_shown_and_printed_in_groups_of_four():
    assert codes.groups("Nzrxs9!bEL8x") == ["Nzrx", "s9!b", "EL8x"]
    assert codes.printed("Nzrxs9!bEL8x") == "Nzrx s9!b EL8x"


def test_a_code_issued_before_with_a_dash_still_opens_the_gate(app, make_voter):
    voter = get_voter(app, make_voter(code="Ab3-Cd4$Ef5%"))
    with app.app_context():
        assert votegate.code_matches(voter, "Ab3- Cd4$\u00a0Ef5%")
        assert not votegate.code_matches(voter, "Ab3Cd4$Ef5%")


def test_notices_file_gives_each_code_in_groups_of_four(app, runner, make_voter, tmp_path):
    ids = [make_voter(code=None) for _ in range(3)]
    out = tmp_path / "notices.csv"
    assert runner.invoke(args=["codes", "issue", "--out", str(out)]).exit_code == 0
    with open(out, encoding="utf-8-sig", newline="") as fh:
        printed = {row["identifiant"]: row["code_de_vote"] for row in csv.DictReader(fh, delimiter=";")}
    with app.app_context():
        for voter_id in ids:
            voter = get_voter(app, voter_id)
            code = printed[voter.identifiant]
            groups = code.split(" ")
            assert [len(g) for g in groups] == [4, 4, 4] and set("".join(groups)) <= set(codes.ALPHABET)
            assert votegate.code_matches(voter, code)  # typed as printed
