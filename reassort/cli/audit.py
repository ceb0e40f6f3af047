"""``audit export`` and ``audit stats``: the audit trail, as CSV or as counts per event.

The trail holds no secret, e-mail address or phone number (``audit.py``), so the
export can be handed over as it is.
"""

from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from reassort.cli.common import database, fail, number
from reassort.procedures import audit

group = AppGroup("audit", help="Journal d'audit.")

#: French labels of the events, in the order ``audit stats`` prints them.
LABELS = {
    "login_ok": "Connexions réussies",
    "login_failed": "Connexions refusées",
    "logout": "Déconnexions",
    "throttled": "Requêtes freinées (limites de débit)",
    "activation_sent": "Liens d'activation envoyés",
    "activation_ok": "Comptes activés",
    "activation_link_invalid": "Liens d'activation invalides",
    "code_ok": "Codes de vote acceptés",
    "code_failed": "Codes de vote refusés",
    "code_outside_window": "Codes saisis hors de la période de vote",
    "link_requested": "Réassorts demandés (liens envoyés)",
    "link_send_failed": "Envois de lien en échec",
    "challenge_failed": "Questions défi échouées",
    "challenge_locked": "Questions défi bloquées (trop d'échecs)",
    "link_opened": "Liens de réassort ouverts",
    "link_invalid": "Liens de réassort invalides (expirés, déjà servis, remplacés)",
    "code_regenerated": "Codes régénérés",
    "regeneration_conflict": "Régénérations concurrentes écartées",
    "reassort_closed": "Réassorts refusés (scrutin clos)",
    "franceconnect_match": "FranceConnect : identité concordante",
    "franceconnect_mismatch": "FranceConnect : identité discordante",
    "franceconnect_error": "FranceConnect : erreurs",
    "franceconnect_cancel": "FranceConnect : abandons",
    "codes_issued": "Lots de codes initiaux générés",
    "code_reissued": "Codes réémis (notices perdues ou mal imprimées)",
    "voters_imported": "Imports d'électeurs",
    "voter_deactivated": "Électeurs désactivés",
    "voter_reactivated": "Électeurs rétablis",
    "purge": "Purges",
    "helpdesk_show": "Assistance : consultations de l'état d'un électeur",
    "helpdesk_unlock": "Assistance : levées de suspension",
    "helpdesk_resend_activation": "Assistance : liens d'activation renvoyés",
    "password_reset_requested": "Mot de passe oublié : demandes",
    "activation_requested": "Lien d'activation non reçu : demandes",
    "password_reset_sent": "Mot de passe oublié : liens envoyés",
    "account_link_send_failed": "Liens de compte (mot de passe, activation) : envois en échec",
    "password_reset_link_opened": "Mot de passe oublié : liens ouverts",
    "password_reset_link_invalid": "Mot de passe oublié : liens invalides (expirés, déjà servis, remplacés)",
    "password_reset_ok": "Mots de passe réinitialisés",
    "password_changed": "Mon compte : mots de passe changés",
    "challenge_changed": "Mon compte : questions défi changées",
    "account_change_refused": "Mon compte : changements refusés (mot de passe actuel erroné)",
}


def register(app: Flask) -> None:
    app.cli.add_command(group)


@group.command("export")
@click.option("--out", "out_path", metavar="FICHIER.csv",
              help="Fichier à écrire (sinon, la sortie standard).")
def export(out_path: str | None) -> None:
    """Exporte le journal d'audit en CSV (date_utc;evenement;votant_id;ip_hachee;detail)."""
    with database() as session:
        try:
            if out_path is None:
                count = audit.export_csv(session, sys.stdout)
            else:
                count = _export_to_file(session, out_path)
                click.echo(f"{number(count)} événement(s) exporté(s) dans {out_path}.", err=True)
        except BrokenPipeError:
            if out_path is not None:
                raise
            _quiet_stdout()  # ``audit export | head``: the reader has had enough
        except OSError as exc:
            fail(f"Écriture impossible dans {out_path} : {exc.strerror or exc}")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not complain, and stop."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    raise SystemExit(1)


def _export_to_file(session, path: str) -> int:
    # 0600: the trail is not secret, but it is nobody else's business on the machine.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_TRUNC: set it
    with open(fd, "w", encoding="utf-8", newline="") as out:
        return audit.export_csv(session, out)


@group.command("stats")
def stats() -> None:
    """Compte les événements du journal d'audit, par type."""
    with database() as session:
        counts = audit.counts(session)
    if not counts:
        click.echo("Journal d'audit vide.")
        return
    ordered = [e for e in LABELS if e in counts] + sorted(e for e in counts if e not in LABELS)
    width = max(len(LABELS.get(e, e)) for e in ordered)
    for event in ordered:
        click.echo(f"{LABELS.get(event, event):<{width}}  {number(counts[event]):>10}")
    click.echo(f"{'Total':<{width}}  {number(sum(counts.values())):>10}")
