"""``codes issue`` and ``codes reissue``: vote codes and the one file the paper notices are printed from.

The file is the only place a code exists in clear: it is written next to its
destination under a temporary name (mode 0600), made durable, and only linked
into place once the database has committed the codes' digests.  If anything
fails before, the database is unchanged and the temporary file is removed.  A
notices file is **never** replaced: an existing file is refused unless it is
empty, and the final step is a hard link, which fails rather than overwrite a
file that appeared meanwhile (``--force`` is gone: it once left 3 codes in a
file that held 6,028).

``codes reissue IDENT… --out FILE`` gives new codes to the voters of a lost or
misprinted batch: each old code is dead the moment the new one is committed
(with the voter's réassort links and sessions, as a regeneration does), each
voter's change is audited with the operator and the reason (``reassort.cli.reissue``).
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
from reassort.cli.common import database_problem, fail, number
from reassort.procedures import audit, votegate
from reassort.rules import codes
from reassort.rules.register import FORMULA_CHARS
from reassort.storage.models import Voter
from reassort.web.extensions import db

group = AppGroup("codes", help="Codes de vote.")

HEADER = ("identifiant", "nom", "prenoms", "code_de_vote")
BATCH_SIZE = 10_000

VOTERS = cast(Table, Voter.__table__)
SET_CODE = (update(VOTERS)
            .where(VOTERS.c.id == bindparam("b_id"), VOTERS.c.code_digest.is_(None))
            .values(code_digest=bindparam("b_digest"), code_issued_at=bindparam("b_at")))


def register(app: Flask) -> None:
    app.cli.add_command(group)


class CodesChanged(Exception):
    """A voter got a code from elsewhere while this run was issuing them."""


_FORCE_GONE = ("--force n'existe plus : un fichier de notices n'est jamais remplacé (ses codes seraient "
               "perdus). Choisissez un nouveau nom de fichier.")


@group.command("issue")
@click.option("--out", "out_path", required=True, metavar="FICHIER.csv",
              help="Fichier des notices à créer (identifiant;nom;prenoms;code_de_vote) ; jamais remplacé.")
@click.option("--force", is_flag=True, hidden=True)
def issue(out_path: str, force: bool) -> None:
    """Génère un code de vote pour chaque électeur qui n'en a pas et écrit le fichier des notices."""
    if force:
        fail(_FORCE_GONE)
    target = checked_target(out_path)
    count, temporary = issue_to_temporary_file(target, write_new_codes, summary_event="codes_issued")
    if count == 0:
        click.echo("Aucun électeur sans code de vote : aucun fichier écrit.")
        return
    put_in_place(temporary, target)
    click.echo(f"Codes de vote générés : {number(count)} ; notices dans {out_path} "
               "(seul exemplaire des codes en clair : à protéger puis détruire après impression).")


def checked_target(out_path: str) -> str:
    """The absolute path to write the notices to, or the command ends with why not (nothing done)."""
    target = os.path.abspath(out_path)
    if os.path.isdir(target):
        fail(f"{out_path} est un dossier : indiquez un nom de fichier.")
    if os.path.exists(target) and os.path.getsize(target) > 0:
        fail(f"{out_path} existe déjà : il contient peut-être des codes non imprimés et ne sera jamais "
             "remplacé. Choisissez un autre nom de fichier.")
    if not os.path.isdir(os.path.dirname(target)):
        fail(f"Dossier introuvable : {os.path.dirname(out_path) or '.'}")
    return target


def put_in_place(temporary: str, target: str) -> None:
    """Give the notices their name without ever replacing a file that holds something."""
    try:
        try:
            os.link(temporary, target)  # fails if the name exists: no overwrite, even in a race
        except FileExistsError:
            if os.path.getsize(target) > 0:
                raise
            os.replace(temporary, target)  # an empty file made ready beforehand (touch, install)
        else:
            os.unlink(temporary)
    except FileExistsError:
        fail(f"Codes enregistrés, mais {target} a été créé entre-temps et n'a pas été remplacé : "
             f"les notices sont dans {temporary}")
    except OSError as exc:
        fail(f"Codes enregistrés, mais le fichier n'a pas pu être mis en place ({exc.strerror}) : "
             f"les notices sont dans {temporary}")


def issue_to_temporary_file(target: str, write, summary_event: str | None = None) -> tuple[int, str]:
    """Write codes with ``write(session, out)`` to a 0600 temporary file beside ``target``, then commit.

    ``write`` returns how many codes it wrote; ``summary_event`` is audited with that count.
    """
    # mkstemp creates the file with mode 0600, whatever the umask.
    fd, temporary = tempfile.mkstemp(prefix=".codes-", suffix=".csv.part", dir=os.path.dirname(target))
    session = db.new_session()
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as out:  # the BOM lets Excel read UTF-8
            count = write(session, out)
            out.flush()
            os.fsync(out.fileno())
        if count and summary_event:
            audit.record(session, summary_event, None, str(count))
        if count:
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


def notice_row(voter, code: str) -> tuple[str, str, str, str]:
    """One line of a notices file, as printed: identifiant;nom;prenoms;code_de_vote."""
    return (voter.identifiant, voter.nom, voter.prenoms, codes.printed(code))


def write_new_codes(session, out) -> int:
    """Give every voter without a code a new one: digest to the database, clear text to ``out``.

    Voters are read by id in batches (keyset), so a million of them stream in
    constant memory; each batch's digests go in one ``executemany``.  Nothing is
    committed here.
    """
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    conn = session.connection()
    # A voter struck off the register gets no code (``voters deactivate``).
    pending = conn.execute(select(func.count()).where(VOTERS.c.code_digest.is_(None),
                                                      VOTERS.c.deactivated_at.is_(None))).scalar()
    now = runtime.now_int()
    last_id, count = 0, 0
    with click.progressbar(length=max(pending, 1), label="Génération des codes",
                           file=sys.stderr) as bar:
        while True:
            voters = conn.execute(
                select(VOTERS.c.id, VOTERS.c.identifiant, VOTERS.c.nom, VOTERS.c.prenoms)
                .where(VOTERS.c.code_digest.is_(None), VOTERS.c.deactivated_at.is_(None), VOTERS.c.id > last_id)
                .order_by(VOTERS.c.id).limit(BATCH_SIZE)).all()
            if not voters:
                return count
            new_codes = [printable_code() for _ in voters]
            result = conn.execute(SET_CODE, [{"b_id": v.id, "b_digest": votegate.code_digest(code), "b_at": now}
                                             for v, code in zip(voters, new_codes, strict=True)])
            if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(voters):
                raise CodesChanged()
            writer.writerows(notice_row(v, code) for v, code in zip(voters, new_codes, strict=True))
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
