"""Alembic, driven from the app: ``flask --app app db upgrade`` / ``db downgrade REVISION``."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", HERE)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def current(engine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
