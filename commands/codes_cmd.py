"""``codes issue``."""

from flask import Flask
from flask.cli import AppGroup

group = AppGroup("codes", help="Codes de vote.")


def register(app: Flask) -> None:
    app.cli.add_command(group)
