"""``db upgrade`` / ``db downgrade`` / ``db current``: Alembic migrations.

``reassort.storage.migrations`` (Alembic, Mako) is imported by each command, not at the top: every
gunicorn worker builds the app, and so registers these commands, but never
migrates — importing Alembic there cost each worker 8 MiB of RSS (docs/benchmarks.md §5).
"""

import click
from flask import Flask
from flask.cli import AppGroup

from reassort.web.extensions import db

group = AppGroup("db", help="Schéma de la base (migrations Alembic).")


@group.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision):
    """Crée ou met à jour le schéma."""
    from reassort.storage import migrations
    migrations.upgrade(db.engine, revision)
    click.echo(f"Schéma à jour (révision {migrations.current(db.engine)}).")


@group.command("downgrade")
@click.argument("revision")
def downgrade(revision):
    """Revient à la révision REVISION (obligatoire ; « base » efface toutes les tables)."""
    from reassort.storage import migrations
    migrations.downgrade(db.engine, revision)
    click.echo(f"Schéma ramené à la révision {migrations.current(db.engine) or 'base'}.")


@group.command("current")
def current():
    """Affiche la révision du schéma."""
    from reassort.storage import migrations
    click.echo(migrations.current(db.engine) or "base")


def register(app: Flask) -> None:
    app.cli.add_command(group)
