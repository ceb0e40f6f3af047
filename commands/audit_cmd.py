"""``audit export``."""

from flask import Flask
from flask.cli import AppGroup

group = AppGroup("audit", help="Journal d audit.")


def register(app: Flask) -> None:
    app.cli.add_command(group)
