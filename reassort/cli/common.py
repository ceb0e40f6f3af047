"""What every command shares: a French failure, the database session, numbers, who acts and why.

Operator mistakes (a missing file, bad input, a database not set up or down) end with a
French message on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from reassort.rules import operators
from reassort.web.extensions import db


def fail(message: str) -> NoReturn:
    """End the command with ``message`` on stderr and exit code 1."""
    click.echo(message, err=True)
    raise SystemExit(1)


def database_problem(exc: SQLAlchemyError) -> str:
    """A one-line French message for a database error (schema missing, server down…)."""
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return ("Erreur de base de données : " + detail
            + "\n(Le schéma est-il à jour ? Lancez « flask --app app db upgrade ».)")


@contextlib.contextmanager
def database() -> Iterator[Session]:
    """A session for the command; a database error rolls back and ends it with a French message."""
    session = db.new_session()
    try:
        yield session
    except SQLAlchemyError as exc:
        session.rollback()
        fail(database_problem(exc))
    finally:
        session.close()


def number(n: int) -> str:
    """``12 345``: French digit grouping (no-break space)."""
    return f"{n:,}".replace(",", "\u00a0")


def operator_option(command):
    return click.option("--operator", required=True, metavar="NOM",
                        help="Identifiant de l'opérateur qui agit (m.durand) ; écrit dans le journal d'audit.")(command)


def operator_options(command):
    """``--operator NOM --reason MOTIF``, both required (``rules.operators``)."""
    command = click.option("--reason", required=True, metavar="MOTIF",
                           help="Pourquoi (numéro de ticket, appel, lot perdu…) ; écrit dans le journal "
                                "d'audit, sans donnée personnelle.")(command)
    return operator_option(command)


def checked_operator(name: str) -> str:
    try:
        return operators.check_operator(name)
    except operators.Refused as refused:
        fail(str(refused))


def checked(operator: str, reason: str) -> tuple[str, str]:
    """The operator and reason, checked (``rules.operators``), or the command ends with why."""
    try:
        return operators.check_operator(operator), operators.check_reason(reason)
    except operators.Refused as refused:
        fail(str(refused))
