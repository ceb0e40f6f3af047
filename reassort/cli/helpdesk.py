"""The help desk on the ``voters`` group: ``show``, ``unlock``, ``resend-activation``.

Each takes the voter's ``identifiant`` or address of record, ``--operator NAME`` and
``--reason TEXT``, and is audited (``reassort.procedures.helpdesk``).  No command
shows or sets a vote code: ``show`` says whether one was issued and when.  Times are
shown in French local time.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from reassort.cli.audit import LABELS
from reassort.cli.common import checked, database, fail, operator_options
from reassort.cli.voters import group
from reassort.procedures import helpdesk

ZONE = ZoneInfo("Europe/Paris")


def when(epoch: int | float | dt.datetime | None) -> str:
    """``01/12/2026 à 14 h 05`` in French local time (an epoch, or a naive UTC datetime)."""
    if epoch is None:
        return "—"
    if isinstance(epoch, dt.datetime):
        moment = epoch.replace(tzinfo=dt.timezone.utc)
    else:
        moment = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return moment.astimezone(ZONE).strftime("%d/%m/%Y à %H h %M")


def _voter(session, ident: str):
    voter = helpdesk.find(session, ident)
    if voter is None:
        fail(f"Aucun électeur n'a l'identifiant ou l'adresse « {ident} ».")
    return voter


def _print_state(found: helpdesk.VoterState) -> None:
    click.echo(f"Électeur {found.identifiant} — {found.nom} {found.prenoms}")
    click.echo(f"  Adresse de référence : {found.email}")
    click.echo(f"  Scrutins : {' ; '.join(found.scrutins) or '—'}")
    if found.activated:
        click.echo("  Compte activé : oui")
    elif found.activation_sent_at:
        click.echo(f"  Compte activé : non — dernier lien d'activation envoyé le {when(found.activation_sent_at)}")
    else:
        click.echo("  Compte activé : non — aucun lien d'activation envoyé")
    click.echo(f"  Code de vote : émis le {when(found.code_issued_at)}" if found.has_code and found.code_issued_at
               else "  Code de vote : émis (date inconnue)" if found.has_code else "  Code de vote : aucun code émis")
    if found.locked_until:
        click.echo(f"  Question défi : suspendue jusqu'au {when(found.locked_until)}")
    else:
        click.echo(f"  Question défi : ouverte ({found.challenge_failures} réponse(s) fausse(s) en cours, "
                   f"suspension à {found.max_failures})")
    line = f"  Liens de réassort cette heure : {found.links_this_hour} sur {found.links_per_hour}"
    if found.links_window_ends_at:
        line += f" (le compteur repart à zéro le {when(found.links_window_ends_at)})"
    click.echo(line)
    click.echo(f"  Désactivé : oui, le {when(found.deactivated_at)}" if found.deactivated_at else "  Désactivé : non")
    click.echo(f"  Derniers événements ({len(found.recent)}) :" if found.recent else "  Aucun événement au journal.")
    for at, event, detail in found.recent:
        click.echo(f"    {when(at)}  {LABELS.get(event, event)}" + (f"  [{detail}]" if detail else ""))


@group.command("show")
@click.argument("ident", metavar="IDENTIFIANT|ADRESSE")
@operator_options
def show(ident: str, operator: str, reason: str) -> None:
    """Affiche l'état d'un électeur (sans aucun secret) ; la consultation est journalisée."""
    operator, reason = checked(operator, reason)
    with database() as session:
        found = helpdesk.show(session, _voter(session, ident), operator, reason)
    _print_state(found)


@group.command("unlock")
@click.argument("ident", metavar="IDENTIFIANT|ADRESSE")
@operator_options
def unlock(ident: str, operator: str, reason: str) -> None:
    """Lève la suspension de la question défi d'un électeur et oublie ses réponses fausses."""
    operator, reason = checked(operator, reason)
    with database() as session:
        voter = _voter(session, ident)
        identifiant = voter.identifiant
        lifted = helpdesk.unlock(session, voter.id, operator, reason)
    if lifted:
        click.echo(f"Question défi de {identifiant} rouverte : suspension levée, réponses fausses oubliées.")
    else:
        click.echo(f"Rien à lever : la question défi de {identifiant} n'était pas suspendue.")


@group.command("resend-activation")
@click.argument("ident", metavar="IDENTIFIANT|ADRESSE")
@operator_options
def resend_activation(ident: str, operator: str, reason: str) -> None:
    """Renvoie un lien d'activation à l'adresse de référence (le seul valable désormais)."""
    operator, reason = checked(operator, reason)
    with database() as session:
        voter = _voter(session, ident)
        identifiant, email = voter.identifiant, voter.email
        outcome, error = helpdesk.resend_activation(session, voter, operator, reason)
    if outcome == helpdesk.SENT:
        click.echo(f"Lien d'activation envoyé à {email} ({identifiant}) ; les liens précédents ne valent plus.")
    elif outcome == helpdesk.ALREADY_ACTIVE:
        fail(f"Le compte de {identifiant} est déjà activé : rien n'a été envoyé. S'il a oublié son mot de "
             "passe, il suit la procédure « mot de passe oublié » du portail.")
    elif outcome == helpdesk.DEACTIVATED:
        fail(f"{identifiant} est désactivé (radié de la liste) : rien n'a été envoyé. « voters reactivate » "
             "d'abord s'il doit voter.")
    elif outcome == helpdesk.SEND_UNCERTAIN:
        fail(f"Envoi incertain à {email} : {error}. Le relais n'a pas confirmé ; le lien, s'il arrive, est le "
             "seul valable. Vérifiez avec l'électeur avant de renvoyer.")
    else:
        fail(f"Envoi impossible à {email} : {error}. Rien n'a changé ; réessayez plus tard.")
