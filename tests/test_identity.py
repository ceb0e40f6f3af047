"""Identity matching (SEC-27), tested directly: pure functions, no app."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from reassort.adapters.franceconnect.standin.identities import BY_KEY, IDENTITIES, NOBODY, registry_fields
from reassort.rules import identity
from reassort.rules.identity import Claimed, mismatches


def voter(**fields):
    """A registry record shaped like ``models.Voter``; defaults are conftest's voter."""
    base = {"nom": "DUBOIS", "prenoms": "Angela Claire Louise", "date_naissance": dt.date(1962, 8, 24),
            "lieu_naissance": "75107"}
    return SimpleNamespace(**{**base, **fields})


def claimed(**claims):
    """Userinfo claims as FranceConnect sends them; defaults are its test identity."""
    base = {"family_name": "DUBOIS", "given_name": "Angela Claire Louise", "birthdate": "1962-08-24",
            "birthplace": "75107", "birthcountry": "99100"}
    return Claimed.from_claims({**base, **claims})


def test_franceconnect_test_identity_matches_its_voter():
    assert mismatches(voter(), claimed()) == []


@pytest.mark.parametrize("registry, sent", [
    ("Dubois", "DUBOIS"),
    ("NOËL", "NOEL"),
    ("Le Gall", "LE-GALL"),
    ("LE GALL", "LEGALL"),
    ("N'Diaye", "NDIAYE"),
    ("N’DIAYE", "N'DIAYE"),
    ("Cœurderoy", "COEURDEROY"),
    ("  Martin-Legrand ", "MARTIN LEGRAND"),
])
def test_family_name_compares_without_case_accents_or_separators(registry, sent):
    assert mismatches(voter(nom=registry), claimed(family_name=sent)) == []


@pytest.mark.parametrize("registry, sent", [
    ("DUBOIS", "DUBOST"), ("DUBOIS", ""), ("DUBOIS", "DUBOIS MARTIN"),
    # SEC-48: letters outside Latin are kept, never dropped.
    ("DUBOIS", "DUBOIS Ж"), ("DUBOIS Ж", "DUBOIS"), ("DUBOIS", "ДЮБУА"), ("ΠΑΠΑΣ", "PAPAS"), ("李", ""),
])
def test_another_family_name_does_not_match(registry, sent):
    assert mismatches(voter(nom=registry), claimed(family_name=sent)) == [identity.FAMILY_NAME]


@pytest.mark.parametrize("prenoms, sent", [
    ("Angela Claire Louise", "Angela"),
    ("Angela Claire Louise", "Claire Angela"),      # FranceConnect's first name is the voter's second
    ("Angela Claire Louise", "LOUISE"),
    ("Angéla", "Angela"),
    ("Jean Pierre Marie", "Jean-Pierre Marie"),      # compound name written with a space in the registry
    ("Jean-Pierre, Marie", "Jean-Pierre"),
    ("Marie-Angela Claire", "Claire"),               # a whole name, not the first
    ("Marie-Angela", "Marie-Angela Louise"),
    ("Иван Пётр", "ИВАН"),                           # other alphabets compare too, case folded
])
def test_first_given_name_among_the_voters_given_names(prenoms, sent):
    assert mismatches(voter(prenoms=prenoms), claimed(given_name=sent)) == []


@pytest.mark.parametrize("prenoms, sent", [
    ("Angela Claire Louise", "Angèle Claire"),
    ("Angela Claire Louise", "Marie Angela"),        # only the first given name must be among the voter's
    ("Jean Pierre", "Jean-Paul"),
    ("Marie Pierre", "Pierre-Marie"),                # words out of order
    ("Angela", ""),
    # SEC-48: a compound name is one name, never matched by one of its parts.
    ("Marie-Angela", "Angela"),
    ("Marie-Angela Claire", "Marie"),
    ("Jean-Pierre", "Jean Paul"),
    ("Jean-Pierre Marie", "Pierre"),
    ("Jean Pierre-Marie", "Jean-Pierre"),            # « Jean » and part of « Pierre-Marie »
    # Letters outside Latin are kept: one more or one fewer is another name.
    ("Angela", "Angela-Ж"),
    ("Angela", "AngelaЖ"),
    ("Ангела", "Angela"),
])
def test_other_first_given_name_does_not_match(prenoms, sent):
    assert mismatches(voter(prenoms=prenoms), claimed(given_name=sent)) == [identity.GIVEN_NAME]


def test_given_name_array_is_preferred_over_the_space_separated_string():
    sent = claimed(given_name="Claire", given_name_array=["Jean-Pierre", "Marie"])
    assert sent.given_names == ("Jean-Pierre", "Marie")
    assert mismatches(voter(prenoms="Jean-Pierre"), sent) == []


@pytest.mark.parametrize("sent", ["1962-08-25", "1962-01-01", "24/08/1962", "1962-8-24", "1962-02-30", ""])
def test_birth_date_must_be_the_same_day(sent):
    assert mismatches(voter(), claimed(birthdate=sent)) == [identity.BIRTH_DATE]


def test_presumed_birth_date_matches_when_the_registry_has_the_same():
    assert mismatches(voter(date_naissance=dt.date(1962, 1, 1)), claimed(birthdate="1962-01-01")) == []


@pytest.mark.parametrize("registry, sent, compared", [
    ("75107", "75107", True),
    ("2a004", "2A004", True),
    ("20004", "2A004", True),      # Corsica: the pre-1976 code keeps the commune number
    ("2B033", "20033", True),
    ("75107", "75108", False),
    ("20004", "2A005", False),
    ("75004", "2A004", False),
    (None, "75107", None),         # not imported: not compared
    ("75107", "", None),           # FranceConnect sends no commune: see the SEC-48 table below
    ("75107", "abc", None),
])
def test_birth_place_codes_compared_when_both_sides_have_one(registry, sent, compared):
    assert identity.same_birthplace(registry, sent) is compared
    if compared is not None:
        expected = [identity.BIRTH_PLACE] if compared is False else []
        assert mismatches(voter(lieu_naissance=registry), claimed(birthplace=sent)) == expected


@pytest.mark.parametrize("registry, place, country, expected", [
    ("75107", "75107", "99100", []),
    ("2A004", "20004", "99100", []),
    # Born in a French commune per the registry: FranceConnect must say France, same commune.
    ("75107", "", "99341", ["pays", "lieu"]),      # the review's case: Paris 7e in the registry, Senegal
    ("75107", "75107", "99341", ["pays"]),
    ("75107", "75107", "", ["pays"]),
    ("75107", "", "99100", ["lieu"]),
    ("75107", "abc", "99100", ["lieu"]),
    ("75107", "75108", "99100", ["lieu"]),
    # Born abroad per the registry (a country code): the same country, no commune to compare.
    ("99341", "", "99341", []),
    ("99341", "", "99100", ["pays"]),
    ("99341", "75107", "99100", ["pays"]),
    ("99341", "", "", ["pays"]),
    # No birth place in the registry: nothing to compare.
    (None, "", "99341", []),
    (None, "75107", "", []),
])
def test_sec48_birth_country_and_commune_must_agree_with_the_registry(registry, place, country, expected):
    assert mismatches(voter(lieu_naissance=registry), claimed(birthplace=place, birthcountry=country)) == expected


def test_every_differing_field_is_named():
    sent = claimed(family_name="MARTIN", given_name="Paul", birthdate="1970-01-02", birthplace="69123",
                   birthcountry="99350")
    assert mismatches(voter(), sent) == ["nom", "prenom", "date", "pays", "lieu"]


def test_missing_claims_never_match():
    assert mismatches(voter(), Claimed.from_claims({})) == ["nom", "prenom", "date", "pays", "lieu"]
    assert mismatches(voter(lieu_naissance=None), Claimed.from_claims({})) == ["nom", "prenom", "date"]


@pytest.mark.parametrize("person", [p for p in IDENTITIES if p.key != NOBODY], ids=lambda p: p.key)
def test_each_standin_identity_matches_the_demo_voter_built_from_it(person):
    sent = Claimed.from_claims({"family_name": person.family_name, "given_name": person.given_name,
                                "birthdate": person.birthdate, "birthplace": person.birthplace,
                                "birthcountry": person.birthcountry})
    assert mismatches(voter(**registry_fields(person)), sent) == []


def test_the_nobody_identity_matches_no_demo_voter():
    nobody = BY_KEY[NOBODY]
    sent = Claimed.from_claims({"family_name": nobody.family_name, "given_name": nobody.given_name,
                                "birthdate": nobody.birthdate, "birthplace": nobody.birthplace,
                                "birthcountry": nobody.birthcountry})
    for person in IDENTITIES:
        if person.key != NOBODY:
            assert mismatches(voter(**registry_fields(person)), sent) != []
