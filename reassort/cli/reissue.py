"""``codes reissue IDENT… --out FILE --operator NOM --reason MOTIF``: new codes for a lost or misprinted batch.

Each named voter gets a new code; the old one is dead the moment the new one is
committed, and with it the voter's pending réassort links and open sessions (as
a regeneration does: whoever found the lost notice and opened the voting space
with it is out).  One ``code_reissued`` audit event per voter carries the
operator and the reason.  The new notices are written like ``codes issue``'s: a
0600 file that never replaces another.  All or nothing: an unknown identifiant,
or a voter whose code changed meanwhile (a réassort), and nothing is changed.
Refused once the poll has closed.
"""

from __future__ import annotations

import csv
import sys

import click
from flask import Flask
from sqlalchemy import select, update

from reassort import runtime
from reassort.cli.codes import (
    HEADER,
    VOTERS,
    CodesChanged,
    checked_target,
    group,
    issue_to_temporary_file,
    notice_row,
    printable_code,
    put_in_place,
)
from reassort.cli.common import checked, fail, number, operator_options
from reassort.procedures import audit, poll, votegate
from reassort.procedures.recovery import new_generation
from reassort.rules import operators

#: Identifiants looked up per query.
LOOKUP_BATCH = 500


def register(app: Flask) -> None:
    """Nothing to add: the command hangs on the ``codes`` group (``reassort.cli.codes``)."""


class UnknownVoters(Exception):
    def __init__(self, identifiants: list[str]):
        self.identifiants = identifiants


@group.command("reissue")
@click.argument("identifiants", nargs=-1, metavar="IDENT…")
@click.option("--from", "from_file", type=click.File("r", encoding="utf-8-sig"), metavar="FICHIER",
              help="Identifiants, un par ligne (ou la première colonne d'un fichier de notices).")
@click.option("--out", "out_path", required=True, metavar="FICHIER.csv",
              help="Fichier des nouvelles notices à créer ; jamais remplacé.")
@operator_options
def reissue(identifiants, from_file, out_path: str, operator: str, reason: str) -> None:
    """Donne un nouveau code aux électeurs nommés (lot de notices perdu ou mal imprimé) ; les anciens
    codes ne valent plus rien dès l'enregistrement."""
    detail = operators.detail(*checked(operator, reason))
    wanted = _identifiants(identifiants, from_file)
    if not wanted:
        fail("Aucun identifiant : nommez les électeurs (IDENT…) ou donnez --from FICHIER.")
    if poll.has_closed():
        fail("Le scrutin est clos (ELECTION_CLOSES_AT) : aucun code n'a été réémis.")
    target = checked_target(out_path)
    try:
        count, temporary = issue_to_temporary_file(target, lambda s, out: _write(s, out, wanted, detail))
    except UnknownVoters as unknown:
        shown = ", ".join(unknown.identifiants[:20]) + (" …" if len(unknown.identifiants) > 20 else "")
        fail(f"Identifiant(s) inconnu(s) : {shown} ({number(len(unknown.identifiants))}) ; "
             "aucun code n'a été réémis.")
    put_in_place(temporary, target)
    click.echo(f"Codes réémis : {number(count)} ; les anciens codes de ces électeurs ne fonctionnent plus. "
               f"Nouvelles notices dans {out_path} (seul exemplaire : à protéger puis détruire après impression).")


def _identifiants(given, from_file) -> list[str]:
    """Given then read identifiants, each once, in order (a header line ``identifiant`` skipped)."""
    found = [i.strip() for i in given]
    if from_file is not None:
        for line in from_file:
            first = line.split(";", 1)[0].strip()
            if first and not first.startswith("#") and first != HEADER[0]:
                found.append(first)
    return list(dict.fromkeys(i for i in found if i))


def _write(session, out, wanted: list[str], detail: str) -> int:
    """New codes for ``wanted``: digests and audit events in ``session`` (not committed), clear text to ``out``."""
    conn = session.connection()
    columns = (VOTERS.c.id, VOTERS.c.identifiant, VOTERS.c.nom, VOTERS.c.prenoms, VOTERS.c.code_digest,
               VOTERS.c.link_generation)
    voters = {}
    for start in range(0, len(wanted), LOOKUP_BATCH):
        chunk = wanted[start:start + LOOKUP_BATCH]
        voters.update({v.identifiant: v for v in conn.execute(select(*columns)
                                                               .where(VOTERS.c.identifiant.in_(chunk)))})
    unknown = [i for i in wanted if i not in voters]
    if unknown:
        raise UnknownVoters(unknown)
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    now = runtime.now_int()
    with click.progressbar([voters[i] for i in wanted], label="Réémission des codes", file=sys.stderr) as bar:
        for voter in bar:
            code = printable_code()
            # Guarded by what was read: a réassort meanwhile would make this notice a lie.
            done = conn.execute(
                update(VOTERS)
                .where(VOTERS.c.id == voter.id, VOTERS.c.code_digest.is_not_distinct_from(voter.code_digest),
                       VOTERS.c.link_generation == voter.link_generation)
                .values(code_digest=votegate.code_digest(code), code_issued_at=now,
                        link_generation=new_generation(voter.link_generation),
                        session_epoch=VOTERS.c.session_epoch + 1))
            if done.rowcount != 1:
                raise CodesChanged()
            audit.record(session, "code_reissued", voter.id, detail)
            writer.writerow(notice_row(voter, code))
    return len(wanted)
