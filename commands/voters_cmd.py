"""``voters import`` and ``voters send-activation``."""

from flask import Flask
from flask.cli import AppGroup

group = AppGroup("voters", help="Registre des électeurs.")


def register(app: Flask) -> None:
    app.cli.add_command(group)
