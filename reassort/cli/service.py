"""``service suspend --message … --operator NAME`` / ``service resume --operator NAME`` / ``service status``.

Shared by every worker and VM (a row of the database); each worker sees a change within
``SUSPENSION_CHECK_SECONDS``.  While suspended every voter page shows the message (503);
the probes and the metrics still answer.  Each change is audited with the operator's name.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from reassort import runtime
from reassort.cli.common import checked_operator, database, fail, operator_option
from reassort.procedures import service

group = AppGroup("service", help="Suspendre ou rouvrir le service aux électeurs.")


def register(app: Flask) -> None:
    app.cli.add_command(group)


@group.command("suspend")
@click.option("--message", required=True, metavar="TEXTE",
              help="Message public affiché aux électeurs à la place des formulaires (500 caractères au plus).")
@operator_option
def suspend(message: str, operator: str) -> None:
    """Affiche MESSAGE à la place des formulaires, sur chaque worker et chaque VM, jusqu'à « service resume »."""
    operator = checked_operator(operator)
    with database() as session:
        try:
            service.suspend(session, message, operator)
        except ValueError as exc:
            fail(f"--message : {exc}")
    delay = runtime.setting("SUSPENSION_CHECK_SECONDS")
    click.echo(f"Service suspendu : chaque worker affiche le message d'ici {delay:g} s. "
               "« flask --app app service resume --operator … » pour rouvrir.")


@group.command("resume")
@operator_option
def resume(operator: str) -> None:
    """Rouvre les formulaires aux électeurs."""
    with database() as session:
        service.resume(session, checked_operator(operator))
    click.echo("Service rouvert.")


@group.command("status")
def status() -> None:
    """Dit si le service est suspendu, et avec quel message."""
    with database() as session:
        state = service.read(session)
    click.echo(f"Suspendu : « {state.message} »" if state.suspended else "Ouvert.")
