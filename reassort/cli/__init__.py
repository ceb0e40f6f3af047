"""The command line (``flask --app app …``), one module per group."""

from flask import Flask


def init_app(app: Flask) -> None:
    from reassort.cli import audit, check_config, codes, db, deactivation, demo, purge, voters

    for module in (db, voters, deactivation, codes, audit, demo, check_config, purge):
        module.register(app)
