"""``voters deactivate IDENT…`` and ``voters reactivate IDENT…`` (audited, with ``--operator`` and ``--reason``).

A deactivated voter can neither log in, nor vote, nor get a réassort
(``reassort.procedures.register``).  Every identifiant must exist, or nothing
is done: a typo never deactivates the others silently.
"""

from __future__ import annotations

import click
from flask import Flask

from reassort.cli.common import checked, database, fail, number, operator_options
from reassort.cli.voters import group
from reassort.procedures import register as register_procedures
from reassort.rules import operators


def register(app: Flask) -> None:
    """Nothing to add: the commands live on the ``voters`` group, registered by ``reassort.cli.voters``."""


def _change(identifiants: tuple[str, ...], operator: str, reason: str, deactivate: bool) -> None:
    detail = operators.detail(*checked(operator, reason))
    wanted = list(dict.fromkeys(i.strip() for i in identifiants if i.strip()))
    with database() as session:
        found = register_procedures.ids_of(session, wanted)
        unknown = [i for i in wanted if i not in found]
        if unknown:
            fail(f"Identifiant(s) inconnu(s) : {', '.join(unknown[:20])}"
                 + (f" … et {number(len(unknown) - 20)} autre(s)" if len(unknown) > 20 else "")
                 + " ; rien n'a été changé.")
        ids = [found[i] for i in wanted]
        change = register_procedures.deactivate if deactivate else register_procedures.reactivate
        done = change(session, ids, detail)
        session.commit()
    verb, already = ("désactivé(s)", "déjà désactivé(s)") if deactivate else ("rétabli(s)", "déjà actif(s)")
    click.echo(f"Électeurs {verb} : {number(len(done))} ; {already} : {number(len(ids) - len(done))}.")


@group.command("deactivate")
@click.argument("identifiants", nargs=-1, required=True, metavar="IDENTIFIANT…")
@operator_options
def deactivate_command(identifiants: tuple[str, ...], operator: str, reason: str) -> None:
    """Désactive des électeurs : plus de connexion, de vote ni de réassort ; leurs sessions et liens cessent."""
    _change(identifiants, operator, reason, deactivate=True)


@group.command("reactivate")
@click.argument("identifiants", nargs=-1, required=True, metavar="IDENTIFIANT…")
@operator_options
def reactivate_command(identifiants: tuple[str, ...], operator: str, reason: str) -> None:
    """Rétablit des électeurs désactivés (il leur faudra un nouveau lien : les anciens restent morts)."""
    _change(identifiants, operator, reason, deactivate=False)
