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

from reassort import importer, runtime
from reassort.cli.common import database, fail, number

group = AppGroup("voters", help="Registre des électeurs.")

#: Errors printed by ``voters import``; the rest are counted.
SHOWN_ERRORS = 200


def register(app: Flask) -> None:
    app.cli.add_command(group)


@group.command("import")
@click.argument("path", metavar="FICHIER.csv")
@click.option("--dry-run", is_flag=True, help="Contrôle le fichier et dit ce qui changerait, sans rien écrire.")
@click.option("--encoding", type=click.Choice(importer.ENCODINGS), default="utf-8", show_default=True,
              help="Encodage du fichier : cp1252 pour le « CSV (séparateur : point-virgule) » d'Excel.")
@click.option("--deactivate-absent", is_flag=True,
              help="Désactive les électeurs de la base absents du fichier (ni connexion, ni vote, ni réassort).")
def import_command(path: str, dry_run: bool, encoding: str, deactivate_absent: bool) -> None:
    """Importe les électeurs d'un fichier CSV (ou met à jour ceux déjà connus par leur identifiant).

    Colonnes : identifiant;nom;prenoms;date_naissance;lieu_naissance;email;numen;nir;scrutins
    (séparateur « ; » ou « , », UTF-8 ou --encoding cp1252). Une seule ligne en erreur et rien
    n'est écrit. Lancez d'abord --dry-run : il dit combien d'électeurs seraient créés, modifiés
    (et quels champs), inchangés ou absents du fichier ; l'import donne ensuite les mêmes nombres.
    """
    if not os.path.isfile(path):
        fail(f"Fichier introuvable : {path}")
    with database() as session:
        try:
            with _progress_bar(path) as progress:
                report = importer.import_voters(session, path, runtime.setting("HASH_PEPPER"), dry_run=dry_run,
                                                progress=progress, encoding=encoding,
                                                deactivate_absent=deactivate_absent)
        except OSError as exc:
            fail(f"Lecture impossible de {path} : {exc.strerror or exc}")
    _print_report(report, deactivate_absent)
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


#: How the report names the file's columns.
FIELD_LABELS = {"nom": "nom", "prenoms": "prénoms", "date_naissance": "date de naissance",
                "lieu_naissance": "lieu de naissance", "email": "adresse électronique", "numen": "NUMEN",
                "nir": "NIR", "scrutins": "scrutins"}


def report_lines(report: importer.ImportReport, deactivate_absent: bool) -> list[str]:
    """The counts, the same for ``--dry-run`` and the import: what changes is named, never a value."""
    would = report.dry_run
    changed = f"{number(report.changed)}"
    if report.fields:
        changed += " (" + ", ".join(f"{FIELD_LABELS.get(name, name)} : {number(count)}"
                                    for name, count in report.fields.items()) + ")"
    lines = [f"  nouveaux électeurs : {number(report.created)}",
             f"  modifiés : {changed}",
             f"  inchangés : {number(report.unchanged)}"]
    absent = f"  absents du fichier : {number(report.absent)}"
    if report.absent_deactivated:
        absent += f" (et {number(report.absent_deactivated)} déjà désactivé(s))"
    lines.append(absent)
    if report.absent and deactivate_absent:
        lines.append(f"  {'seraient désactivés' if would else 'désactivés'} (--deactivate-absent) : "
                     f"{number(report.deactivated)}")
    elif report.absent:
        lines.append("    ils restent actifs ; pour les désactiver : relancez avec --deactivate-absent, "
                     "ou « voters deactivate IDENTIFIANT… »")
    if report.absent_sample:
        more = report.absent - len(report.absent_sample)
        lines.append("    identifiants absents : " + ", ".join(report.absent_sample)
                     + (f" … et {number(more)} autre(s)" if more > 0 else ""))
    if report.present_deactivated:
        lines.append(f"  dans le fichier mais désactivés : {number(report.present_deactivated)} "
                     "(ils restent désactivés ; « voters reactivate IDENTIFIANT… » pour les rétablir)")
    return lines


def _print_report(report: importer.ImportReport, deactivate_absent: bool) -> None:
    if not report.ok:
        click.echo(f"{number(report.error_count)} erreur(s) dans le fichier ; rien n'a été écrit.", err=True)
        for error in report.errors[:SHOWN_ERRORS]:
            click.echo(f"  {error}", err=True)
        hidden = report.error_count - min(len(report.errors), SHOWN_ERRORS)
        if hidden:
            click.echo(f"  … et {number(hidden)} autre(s) erreur(s).", err=True)
        click.echo("Corrigez le fichier puis relancez l'import.", err=True)
        return
    if report.dry_run:
        click.echo(f"Contrôle terminé, fichier correct : {number(report.rows)} ligne(s). L'import ferait :")
    else:
        click.echo(f"Import terminé : {number(report.rows)} ligne(s).")
    for line in report_lines(report, deactivate_absent):
        click.echo(line)
    if report.dry_run:
        click.echo("Rien n'a été écrit (--dry-run).")


@group.command("send-activation")
@click.option("--resend", is_flag=True,
              help="Renvoie aussi un lien (le seul valable désormais) aux électeurs déjà prévenus "
                   "mais pas encore activés.")
@click.option("--connections", type=click.IntRange(1, 64), default=16, show_default=True,
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

    with database() as session:
        run = mailing.Run(session, resend=resend, connections=connections, rate=rate, stop_after=stop_after,
                          retry_interrupted=retry_interrupted)
        run.go()
    run.report()
