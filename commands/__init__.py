"""The command line (``flask --app app …``), one module per group."""

from flask import Flask


def init_app(app: Flask) -> None:
    from commands import audit_cmd, codes_cmd, config_cmd, db_cmd, demo_cmd, purge_cmd, voters_cmd

    for module in (db_cmd, voters_cmd, codes_cmd, audit_cmd, demo_cmd, config_cmd, purge_cmd):
        module.register(app)
