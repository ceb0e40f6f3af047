"""The command line (``flask --app app …``), one module per group."""

from flask import Flask


def init_app(app: Flask) -> None:
    # These add commands to the groups above (audit, voters) or groups of their own.
    from reassort.cli import (  # noqa: F401
        audit,
        audit_report,
        check_config,
        codes,
        db,
        deactivation,
        demo,
        helpdesk,
        integrity,
        messages,
        purge,
        reissue,
        service,
        voters,
    )

    for module in (db, voters, deactivation, codes, reissue, audit, demo, check_config, purge, integrity, messages,
                   service):
        module.register(app)
