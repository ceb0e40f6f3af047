"""``purge``: after the election, erase the voters, their secrets and the CAPTCHA rows.

Voters' rows go with everything they hold (name, birth date and place,
addresses, password and answer hashes, code/NUMEN/NIR digests) and their
scrutins with them; CAPTCHA rows go too.  The audit trail holds no personal data
(voter ids and keyed IP hashes only): it is kept by default, or exported to a
file then deleted.  The tables are then compacted (``VACUUM``) so that the
deleted rows do not linger in the database files; backups are another matter
(docs/deploy.md).

Two guards before anything is erased: the poll must have a closing date
(``ELECTION_CLOSES_AT``) in the past — an empty one is refused, it once let
everything go at once — and the operator types the election's title
(``ELECTION_TITLE``), or gives it with ``--confirm-title``.  A bad export path
is said before anything is erased; the export is created 0600, never over an
existing file.
"""

from __future__ import annotations

import os

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import OperationalError

from reassort import runtime
from reassort.cli.common import fail
from reassort.procedures import audit, poll
from reassort.storage.models import AuditEvent, CaptchaChallenge, Scrutin, Voter
from reassort.web.extensions import db


@click.command("purge")
@click.option("--confirm-title", metavar="TITRE",
              help="Le titre exact de l'élection (ELECTION_TITLE), au lieu de le taper quand il est demandé.")
@click.option("--confirm", is_flag=True, hidden=True)
@click.option("--keep-audit", is_flag=True, help="Conserve le journal d'audit (par défaut).")
@click.option("--export-audit", "export_path", metavar="FICHIER.csv",
              help="Exporte le journal d'audit (CSV, mode 0600) dans ce nouveau fichier, puis l'efface de la base.")
@with_appcontext
def purge(confirm_title, confirm, keep_audit, export_path):
    """Efface électeurs, secrets, scrutins et CAPTCHA après la clôture de l'élection (irréversible)."""
    if keep_audit and export_path:
        raise click.UsageError("--keep-audit et --export-audit s'excluent : choisissez l'un ou l'autre.")
    closes = runtime.setting("ELECTION_CLOSES_AT")
    if closes is None:
        fail("ELECTION_CLOSES_AT est vide : la purge n'est permise qu'une fois passée la date de clôture du "
             "scrutin. Rien n'a été effacé.")
    if not poll.has_closed():
        fail(f"Le scrutin n'est pas clos (clôture : {closes.isoformat()}) : rien n'a été effacé.")
    export = _checked_export(export_path) if export_path else None
    _confirm_title(confirm_title, confirm)

    with db.new_session() as session:
        exported_up_to = None
        if export:
            exported_up_to, n_exported = _export(session, export, export_path)
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


def _checked_export(path: str) -> str:
    """The export's absolute path, or the command ends with why it cannot be written (nothing erased)."""
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        fail(f"--export-audit : {path} est un dossier ; indiquez un nom de fichier. Rien n'a été effacé.")
    if os.path.lexists(target):
        fail(f"--export-audit : {path} existe déjà ; choisissez un nouveau fichier. Rien n'a été effacé.")
    if not os.path.isdir(folder):
        fail(f"--export-audit : dossier introuvable : {os.path.dirname(path) or '.'}. Rien n'a été effacé.")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"--export-audit : écriture interdite dans {os.path.dirname(path) or '.'}. Rien n'a été effacé.")
    return target


def _confirm_title(given: str | None, old_confirm: bool) -> None:
    """The operator types the election's title (or gives it): a purge is never one flag away."""
    title = str(runtime.setting("ELECTION_TITLE"))
    if given is None:
        try:
            given = click.prompt(f"Effacement définitif des électeurs de « {title} ».\n"
                                 "Tapez le titre de l'élection pour confirmer", default="", show_default=False,
                                 err=True)
        except click.Abort:
            given = ""
    if " ".join(str(given).split()) != " ".join(title.split()):
        hint = " (--confirm ne suffit plus)" if old_confirm else ""
        fail(f"Titre non confirmé{hint} : tapez le titre exact de l'élection (ELECTION_TITLE) quand il est "
             "demandé, ou donnez-le avec --confirm-title. Rien n'a été effacé.")


def _export(session, target: str, shown: str) -> tuple[int, int]:
    """Write the trail to a new 0600 file at ``target`` and sync it to disk; nothing is erased if it fails."""
    last = session.scalar(select(func.max(AuditEvent.id)))
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        fail(f"--export-audit : {shown} : {exc.strerror or exc}. Rien n'a été effacé.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            n = audit.export_csv(session, out)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        os.unlink(target)
        fail(f"--export-audit : écriture interrompue ({exc.strerror or exc}) ; fichier retiré, rien n'a été effacé.")
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
