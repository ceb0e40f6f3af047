"""Test identities offered by the stand-in's consent page.

Shaped like FranceConnect's own mock identity provider (FRANCECONNECT.md): birth
name in upper case, first names separated by spaces, ``YYYY-MM-DD``, INSEE codes.
Every identity but ``NOBODY`` is meant to match one demo voter: the demo command
creates its voters from ``registry_fields(identity)``; ``NOBODY`` matches no one,
to show the mismatch path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class TestIdentity:
    key: str
    family_name: str
    given_name: str
    birthdate: str
    birthplace: str  # "" when born abroad, as FranceConnect sends it
    birthcountry: str
    gender: str
    email: str
    description: str

    __test__ = False  # not a pytest test class despite its name

    @property
    def label(self) -> str:
        return f"{self.given_name} {self.family_name}"


IDENTITIES: tuple[TestIdentity, ...] = (
    TestIdentity("angela", "DUBOIS", "Angela Claire Louise", "1962-08-24", "75107", "99100", "female",
                 "angela.dubois@example.org", "née le 24/08/1962 à Paris 7e"),
    TestIdentity("jean-pierre", "MARTIN-LEGRAND", "Jean-Pierre Marie", "1975-03-14", "69123", "99100", "male",
                 "jp.martin-legrand@example.org", "né le 14/03/1975 à Lyon (nom et prénom composés)"),
    TestIdentity("aissatou", "N'DIAYE", "Aïssatou", "1988-11-02", "", "99341", "female",
                 "aissatou.ndiaye@example.org", "née le 02/11/1988 au Sénégal (lieu non comparé)"),
    TestIdentity("marc-antoine", "CASANOVA", "Marc-Antoine Pierre", "1958-06-30", "2A004", "99100", "male",
                 "ma.casanova@example.org", "né le 30/06/1958 à Ajaccio"),
    TestIdentity("nobody", "LEFEBVRE", "Camille", "1990-01-15", "59350", "99100", "female",
                 "camille.lefebvre@example.org", "ne correspond à aucun électeur"),
)

NOBODY = "nobody"
BY_KEY = {identity.key: identity for identity in IDENTITIES}


def registry_fields(identity: TestIdentity) -> dict:
    """The voter-registry fields (``nom``, ``prenoms``, ``date_naissance``, ``lieu_naissance``) that match."""
    return {"nom": identity.family_name, "prenoms": identity.given_name,
            "date_naissance": dt.date.fromisoformat(identity.birthdate),
            "lieu_naissance": identity.birthplace or None}
