"""Is the database's schema at the code's head revision?  Without importing Alembic.

``/readyz`` asks it on every probe and each gunicorn worker serves it: Alembic
(and Mako) would cost each worker 8 MiB (docs/benchmarks.md §5).  The head is
read once from the migration files themselves (their ``revision`` and
``down_revision`` assignments, parsed, never executed); the database's side is
the ``alembic_version`` table.  ``tests/test_readiness.py`` checks that this
agrees with Alembic's own ``heads``.
"""

from __future__ import annotations

import ast
import functools
import os

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

VERSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations", "versions")


@functools.cache
def expected_heads() -> frozenset[str]:
    """The revisions no migration builds on: what ``db upgrade`` leaves in ``alembic_version``."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for name in sorted(os.listdir(VERSIONS)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(VERSIONS, name), encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), name)
        values = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                  for target in node.targets if isinstance(target, ast.Name)}
        if "revision" not in values:
            continue
        revisions.add(ast.literal_eval(values["revision"]))
        down = ast.literal_eval(values["down_revision"]) if "down_revision" in values else None
        parents.update([down] if isinstance(down, str) else list(down or ()))
    return frozenset(revisions - parents)


def current_versions(connection: Connection) -> frozenset[str] | None:
    """The revisions recorded in the database; ``None`` when it has no ``alembic_version`` table."""
    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        if connection.in_transaction():
            connection.rollback()
        if not _has_version_table(connection):
            return None
        raise
    return frozenset(rows)


def _has_version_table(connection: Connection) -> bool:
    from sqlalchemy import inspect

    return inspect(connection).has_table("alembic_version")


def problem(connection: Connection) -> str | None:
    """``None`` when the schema is at head, else what is wrong, in French (no value quoted)."""
    current = current_versions(connection)
    heads = expected_heads()
    if current is None or not current:
        return "schéma absent (lancez « db upgrade »)"
    if current != heads:
        return (f"schéma à la révision {', '.join(sorted(current))}, le code attend "
                f"{', '.join(sorted(heads))} (lancez « db upgrade »)")
    return None
