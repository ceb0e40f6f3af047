"""``purge``: after the election, erase the voters, their secrets and the CAPTCHA rows.

Voters' rows go with everything they hold (name, birth date and place,
addresses, password and answer hashes, code/NUMEN/NIR digests) and their
scrutins with them; CAPTCHA rows go too.  The audit trail holds no personal data
(voter ids and keyed IP hashes only): it is kept by default, or exported to a
file then deleted.  The tables are then compacted (``VACUUM``) so that the
deleted rows do not linger in the database files; backups are another matter
(docs/deploy.md).
"""

from __future__ import annotations

import os

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import OperationalError

from reassort import runtime
from reassort.procedures import audit, poll
from reassort.storage.models import AuditEvent, CaptchaChallenge, Scrutin, Voter
from reassort.web.extensions import db


@click.command("purge")
@click.option("--confirm", is_flag=True, help="Obligatoire : confirme l'effacement définitif.")
@click.option("--keep-audit", is_flag=True, help="Conserve le journal d'audit (par défaut).")
@click.option("--export-audit", "export_path", type=click.Path(dir_okay=False, writable=True),
              help="Exporte le journal d'audit (CSV) dans ce fichier, puis l'efface de la base.")
@with_appcontext
def purge(confirm, keep_audit, export_path):
    """Efface électeurs, secrets, scrutins et CAPTCHA après l'élection (irréversible)."""
    if keep_audit and export_path:
        raise click.UsageError("--keep-audit et --export-audit s'excluent : choisissez l'un ou l'autre.")
    if not confirm:
        raise click.UsageError("rien n'a été effacé : l'effacement est définitif, ajoutez --confirm.")
    if runtime.setting("ELECTION_CLOSES_AT") and not poll.has_closed():
        raise click.ClickException("le scrutin n'est pas clos (ELECTION_CLOSES_AT) : rien n'a été effacé.")
    if export_path and os.path.exists(export_path):
        raise click.ClickException(f"{export_path} existe déjà : choisissez un nouveau fichier, rien n'a été effacé.")

    with db.new_session() as session:
        exported_up_to = None
        if export_path:
            exported_up_to, n_exported = _export(session, export_path)
            click.echo(f"Journal d'audit exporté : {n_exported} événement(s) dans {export_path}.")
        counts = {
            "inscriptions aux scrutins": _delete(session, Scrutin),
            "électeurs": _delete(session, Voter),
            "CAPTCHA": _delete(session, CaptchaChallenge),
        }
        if exported_up_to is not None:
            # Only what the file holds: an event written meanwhile is kept, not lost.
            counts["événements d'audit"] = session.execute(
                delete(AuditEvent).where(AuditEvent.id <= exported_up_to)).rowcount
            detail = "audit exporté puis effacé"
        else:
            detail = "audit conservé"
        audit.record(session, "purge", None, detail)
        session.commit()
        kept = session.scalar(select(func.count()).select_from(AuditEvent))

    compacted = _compact()
    click.echo("Purge effectuée :")
    for label, n in counts.items():
        click.echo(f"  - {label} effacés : {n}")
    click.echo(f"  - événements d'audit restant en base : {kept} (dont cette purge)")
    if not compacted:
        click.echo("Attention : le compactage (VACUUM) a échoué ; relancez-le à la main "
                   "pour que les lignes effacées quittent les fichiers de la base.", err=True)
    click.echo("Pensez aux sauvegardes : celles d'avant la purge contiennent encore ces données.")


def _export(session, path: str) -> tuple[int, int]:
    """Write the trail to ``path`` (created, never overwritten) and sync it to disk."""
    last = session.scalar(select(func.max(AuditEvent.id)))
    with open(path, "x", encoding="utf-8", newline="") as out:
        n = audit.export_csv(session, out)
        out.flush()
        os.fsync(out.fileno())
    return (last or 0), n


def _delete(session, model) -> int:
    return session.execute(delete(model)).rowcount


def _compact() -> bool:
    """VACUUM the purged tables (outside any transaction); False if the database refused."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        statement = "VACUUM FULL voters, scrutins, captcha_challenges, audit_events"
    else:
        statement = "VACUUM"
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(statement))
        return True
    except OperationalError:
        return False


def register(app: Flask) -> None:
    app.cli.add_command(purge)
