"""``demo``: demo voters for the README's demo command (placeholder until the importer lands)."""

from flask import Flask


def register(app: Flask) -> None:
    pass
