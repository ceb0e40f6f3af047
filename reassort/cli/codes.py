"""``codes issue``: the initial vote codes and the one file the paper notices are printed from.

The file is the only place a code exists in clear: it is written next to its
destination under a temporary name (mode 0600), made durable, and only renamed
into place once the database has committed the codes' digests.  If anything
fails before, the database is unchanged and the temporary file is removed; a
second run never overwrites a notices file unless told to (``--force``).
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from typing import cast

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from reassort import runtime
from reassort.cli.voters import database_problem, fail, number
from reassort.procedures import audit, votegate
from reassort.rules import codes
from reassort.storage.models import Voter
from reassort.web.extensions import db

group = AppGroup("codes", help="Codes de vote.")

HEADER = ("identifiant", "nom", "prenoms", "code_de_vote")
BATCH_SIZE = 10_000
# A spreadsheet would read a cell starting with one of these as a formula.
FORMULA_CHARS = "=+-@"

VOTERS = cast(Table, Voter.__table__)
SET_CODE = (update(VOTERS)
            .where(VOTERS.c.id == bindparam("b_id"), VOTERS.c.code_digest.is_(None))
            .values(code_digest=bindparam("b_digest"), code_issued_at=bindparam("b_at")))


def register(app: Flask) -> None:
    app.cli.add_command(group)


class CodesChanged(Exception):
    """A voter got a code from elsewhere while this run was issuing them."""


@group.command("issue")
@click.option("--out", "out_path", required=True, metavar="FICHIER.csv",
              help="Fichier des notices à écrire (identifiant;nom;prenoms;code_de_vote).")
@click.option("--force", is_flag=True,
              help="Remplace un fichier existant (les codes qu'il contenait seront perdus).")
def issue(out_path: str, force: bool) -> None:
    """Génère un code de vote pour chaque électeur qui n'en a pas et écrit le fichier des notices."""
    target = os.path.abspath(out_path)
    if os.path.isdir(target):
        fail(f"{out_path} est un dossier : indiquez un nom de fichier.")
    if os.path.exists(target) and not force:
        fail(f"{out_path} existe déjà : il contient peut-être des codes non imprimés. "
             "Choisissez un autre nom, ou --force pour le remplacer.")
    if not os.path.isdir(os.path.dirname(target)):
        fail(f"Dossier introuvable : {os.path.dirname(out_path) or '.'}")
    count, temporary = _issue_to_temporary_file(target)
    if count == 0:
        click.echo("Aucun électeur sans code de vote : aucun fichier écrit.")
        return
    try:
        os.replace(temporary, target)
    except OSError as exc:
        fail(f"Codes enregistrés, mais le fichier n'a pas pu être renommé ({exc.strerror}) : "
             f"les notices sont dans {temporary}")
    click.echo(f"Codes de vote générés : {number(count)} ; notices dans {out_path} "
               "(seul exemplaire des codes en clair : à protéger puis détruire après impression).")


def _issue_to_temporary_file(target: str) -> tuple[int, str]:
    """Write the codes to a 0600 temporary file beside ``target`` and commit their digests."""
    # mkstemp creates the file with mode 0600, whatever the umask.
    fd, temporary = tempfile.mkstemp(prefix=".codes-", suffix=".csv.part", dir=os.path.dirname(target))
    session = db.new_session()
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as out:  # the BOM lets Excel read UTF-8
            count = write_new_codes(session, out)
            out.flush()
            os.fsync(out.fileno())
        if count:
            audit.record(session, "codes_issued", None, str(count))
            session.commit()
    except CodesChanged:
        _discard(session, temporary)
        fail("Des codes ont été attribués par ailleurs pendant l'opération : rien n'a été enregistré, "
             "relancez la commande.")
    except SQLAlchemyError as exc:
        _discard(session, temporary)
        fail(database_problem(exc))
    except BaseException:
        _discard(session, temporary)
        raise
    finally:
        session.close()
    if not count:
        os.unlink(temporary)
    return count, temporary


def _discard(session, temporary: str) -> None:
    session.rollback()
    if os.path.exists(temporary):
        os.unlink(temporary)


def write_new_codes(session, out) -> int:
    """Give every voter without a code a new one: digest to the database, clear text to ``out``.

    Voters are read by id in batches (keyset), so a million of them stream in
    constant memory; each batch's digests go in one ``executemany``.  Nothing is
    committed here.
    """
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    conn = session.connection()
    pending = conn.execute(select(func.count()).where(VOTERS.c.code_digest.is_(None))).scalar()
    now = runtime.now_int()
    last_id, count = 0, 0
    with click.progressbar(length=max(pending, 1), label="Génération des codes",
                           file=sys.stderr) as bar:
        while True:
            voters = conn.execute(
                select(VOTERS.c.id, VOTERS.c.identifiant, VOTERS.c.nom, VOTERS.c.prenoms)
                .where(VOTERS.c.code_digest.is_(None), VOTERS.c.id > last_id)
                .order_by(VOTERS.c.id).limit(BATCH_SIZE)).all()
            if not voters:
                return count
            new_codes = [printable_code() for _ in voters]
            result = conn.execute(SET_CODE, [{"b_id": v.id, "b_digest": votegate.code_digest(code), "b_at": now}
                                             for v, code in zip(voters, new_codes, strict=True)])
            if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(voters):
                raise CodesChanged()
            writer.writerows((v.identifiant, v.nom, v.prenoms, codes.printed(code))
                            for v, code in zip(voters, new_codes, strict=True))
            last_id, count = voters[-1].id, count + len(voters)
            bar.update(len(voters))


def printable_code() -> str:
    """A vote code (``codes.generate``) that a spreadsheet will not take for a formula.

    Redrawing the 4/67 codes that start with = + - @ costs under 0.1 bit of the ~72.8.
    """
    code = codes.generate()
    while code[0] in FORMULA_CHARS:
        code = codes.generate()
    return code
