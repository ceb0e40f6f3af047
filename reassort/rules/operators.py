"""Who acts and why: the ``--operator`` and ``--reason`` of every audited operator command.

The help desk (``voters show|unlock|resend-activation``), ``voters deactivate|reactivate``,
``codes reissue`` and ``service suspend|resume`` all write them into the audit trail, so
they follow one rule: the operator is a staff login (``m.durand``), the reason a short
free text such as a ticket number.  The audit trail must never hold personal data, so a
reason that looks like an e-mail address, a NUMEN or a phone or social-security number
is refused.
"""

from __future__ import annotations

import re

OPERATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
MIN_REASON, MAX_REASON = 3, 200
#: What the audit trail must never hold: an e-mail address, a NUMEN, or a run of 9 digits or
#: more written with or without separators (a phone number, a NIR).
_PERSONAL = re.compile(r"@|%40|\d{2}\s*[a-z]\s*\d{7}\s*[a-z]{3}|\+?\d(?:[\s./-]?\d){8,}", re.IGNORECASE)


class Refused(ValueError):
    """An operator's input that cannot be used; the message says why (French)."""


def check_operator(name: str) -> str:
    name = (name or "").strip()
    if not OPERATOR.fullmatch(name):
        raise Refused("--operator : un identifiant d'opérateur (lettres, chiffres, « . », « _ », « - », "
                      "2 à 64 caractères, sans espace ni adresse électronique), par exemple « m.durand »")
    return name


def check_reason(text: str) -> str:
    text = " ".join((text or "").split())
    if len(text) < MIN_REASON:
        raise Refused(f"--reason : le motif est obligatoire, {MIN_REASON} caractères au moins "
                      "(par exemple « appel 2026-118 »)")
    if len(text) > MAX_REASON or any(not c.isprintable() for c in text):
        raise Refused(f"--reason : {MAX_REASON} caractères imprimables au plus")
    if _PERSONAL.search(text):
        raise Refused("--reason : ni adresse électronique ni numéro (téléphone, NIR, NUMEN) dans le motif, "
                      "il est écrit dans le journal d'audit ; donnez plutôt un numéro de ticket court")
    return text


def detail(operator: str, reason: str, outcome: str | None = None) -> str:
    """The audit detail of an operator's action (already checked)."""
    return f"operateur={operator} motif={reason}" + (f" resultat={outcome}" if outcome else "")
