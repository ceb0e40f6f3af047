"""``voters import`` and ``voters send-activation``.

Operator mistakes (missing file, bad CSV, database not set up) end with a French
message on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from reassort import importer, runtime
from reassort.web.extensions import db

group = AppGroup("voters", help="Registre des électeurs.")

#: Errors printed by ``voters import``; the rest are counted.
SHOWN_ERRORS = 200


def register(app: Flask) -> None:
    app.cli.add_command(group)


def fail(message: str) -> None:
    """End the command with ``message`` on stderr and exit code 1."""
    click.echo(message, err=True)
    raise SystemExit(1)


def database_problem(exc: SQLAlchemyError) -> str:
    """A one-line French message for a database error (schema missing, server down…)."""
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return ("Erreur de base de données : " + detail
            + "\n(Le schéma est-il à jour ? Lancez « flask --app app db upgrade ».)")


def number(n: int) -> str:
    """``12 345``: French digit grouping (no-break space)."""
    return f"{n:,}".replace(",", "\u00a0")


@group.command("import")
@click.argument("path", metavar="FICHIER.csv")
@click.option("--dry-run", is_flag=True, help="Contrôle le fichier et compte, sans rien écrire.")
def import_command(path: str, dry_run: bool) -> None:
    """Importe les électeurs d'un fichier CSV (ou met à jour ceux déjà connus par leur identifiant).

    Colonnes : identifiant;nom;prenoms;date_naissance;lieu_naissance;email;numen;nir;scrutins
    (séparateur « ; » ou « , », UTF-8). Une seule ligne en erreur et rien n'est écrit.
    """
    if not os.path.isfile(path):
        fail(f"Fichier introuvable : {path}")
    session = db.new_session()
    try:
        with _progress_bar(path) as progress:
            report = importer.import_voters(session, path, runtime.setting("HASH_PEPPER"),
                                            dry_run=dry_run, progress=progress)
    except OSError as exc:
        fail(f"Lecture impossible de {path} : {exc.strerror or exc}")
    except SQLAlchemyError as exc:
        fail(database_problem(exc))
    finally:
        session.close()
    _print_report(report)
    if not report.ok:
        raise SystemExit(1)


@contextlib.contextmanager
def _progress_bar(path: str):
    """A progress callback for the importer, drawn on stderr (hidden when not a terminal)."""
    with open(path, "rb") as fh:
        # Lines, not records (a quoted field may span lines): close enough for a bar.
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    with click.progressbar(length=max(lines - 1, 1), label="Contrôle des lignes", file=sys.stderr,
                           show_pos=True) as bar:
        yield lambda rows: bar.update(rows - bar.pos)


def _print_report(report: importer.ImportReport) -> None:
    if not report.ok:
        click.echo(f"{number(report.error_count)} erreur(s) dans le fichier ; rien n'a été écrit.", err=True)
        for error in report.errors[:SHOWN_ERRORS]:
            click.echo(f"  {error}", err=True)
        hidden = report.error_count - min(len(report.errors), SHOWN_ERRORS)
        if hidden:
            click.echo(f"  … et {number(hidden)} autre(s) erreur(s).", err=True)
        click.echo("Corrigez le fichier puis relancez l'import.", err=True)
    elif report.dry_run:
        click.echo(f"Contrôle terminé, fichier correct : {number(report.rows)} ligne(s) ; "
                   f"seraient créés : {number(report.created)}, mis à jour : {number(report.updated)}. "
                   "Rien n'a été écrit (--dry-run).")
    else:
        click.echo(f"Import terminé : {number(report.rows)} ligne(s) ; "
                   f"électeurs créés : {number(report.created)}, mis à jour : {number(report.updated)}.")


@group.command("send-activation")
@click.option("--resend", is_flag=True,
              help="Renvoie aussi un lien (le seul valable désormais) aux électeurs déjà prévenus "
                   "mais pas encore activés.")
@click.option("--connections", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Connexions SMTP ouvertes à la fois, chacune réutilisée pour de nombreux messages.")
@click.option("--rate", type=click.FloatRange(0.1, 100000), default=None, metavar="N",
              help="Au plus N messages par seconde (le quota du relais) ; sans limite par défaut.")
@click.option("--stop-after", type=click.IntRange(1, 10000), default=10, show_default=True,
              help="S'arrête après autant d'échecs de suite (relais en panne ou qui refuse tout).")
@click.option("--retry-interrupted", is_flag=True,
              help="Écrit aussi aux électeurs dont l'envoi a été coupé net par un arrêt brutal "
                   "(leur message est peut-être parti : ils peuvent le recevoir deux fois).")
def send_activation(resend: bool, connections: int, rate: float | None, stop_after: int,
                    retry_interrupted: bool) -> None:
    """Envoie par e-mail un lien d'activation à chaque électeur sans mot de passe jamais prévenu.

    Reprend là où une exécution précédente s'est arrêtée (Ctrl+C, panne du relais) :
    personne ne reçoit deux fois son lien.
    """
    from reassort.cli import mailing

    session = db.new_session()
    try:
        run = mailing.Run(session, resend=resend, connections=connections, rate=rate, stop_after=stop_after,
                          retry_interrupted=retry_interrupted)
        run.go()
    except SQLAlchemyError as exc:
        fail(database_problem(exc))
    finally:
        session.close()
    run.report()
