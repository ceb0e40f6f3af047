"""Alembic: empty database → head → base, on SQLite and PostgreSQL, and models = migrations."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from reassort.storage import migrations
from reassort.storage.database import make_engine
from reassort.storage.models import Base

pytestmark = pytest.mark.each_database

TABLES = set(Base.metadata.tables)


@pytest.fixture
def engine(settings):
    """An engine on the test's empty database (SQLite file or PostgreSQL schema)."""
    engine = make_engine(settings["DATABASE_URL"])
    yield engine
    engine.dispose()


def table_names(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def head() -> str:
    return ScriptDirectory.from_config(migrations.alembic_config()).get_current_head()


def test_migrations_have_a_single_head():
    assert len(ScriptDirectory.from_config(migrations.alembic_config()).get_heads()) == 1


def test_upgrade_from_empty_to_head_then_down_to_base(engine):
    assert table_names(engine) == set()
    migrations.upgrade(engine)
    assert migrations.current(engine) == head()
    assert table_names(engine) == TABLES | {"alembic_version"}
    migrations.downgrade(engine, "base")
    assert migrations.current(engine) is None
    assert table_names(engine) <= {"alembic_version"}


def test_upgrade_twice_changes_nothing(engine):
    migrations.upgrade(engine)
    migrations.upgrade(engine)
    assert migrations.current(engine) == head()


def test_models_match_the_migrations(engine):
    migrations.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_down_to_base_then_up_again(engine):
    migrations.upgrade(engine)
    migrations.downgrade(engine, "base")
    migrations.upgrade(engine)
    assert table_names(engine) == TABLES | {"alembic_version"}


def test_db_downgrade_demands_a_revision_then_current_upgrade(runner):
    # The ``app`` fixture has already run ``upgrade``.
    assert runner.invoke(args=["db", "current"]).output.strip() == head()
    result = runner.invoke(args=["db", "downgrade"])
    assert result.exit_code == 2 and "REVISION" in result.output  # never a silent drop of every table
    assert runner.invoke(args=["db", "current"]).output.strip() == head()
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0 and "base" in result.output
    assert runner.invoke(args=["db", "current"]).output.strip() == "base"
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and head() in result.output


def test_the_security_review_migration_gives_random_generations_to_voters_still_at_zero(engine):
    """0002: a voter at generation 0 (every voter before it) gets a random one; others keep theirs."""
    from sqlalchemy import text
    migrations.upgrade(engine, "0001")
    with engine.begin() as connection:
        for n, (activation, link) in enumerate([(0, 0), (1, 0), (0, 12345)], start=1):
            connection.execute(text(
                "INSERT INTO voters (id, identifiant, nom, prenoms, date_naissance, email, activation_generation, "
                "link_generation, link_window_start, links_in_window, challenge_failures, challenge_locked_until, "
                "session_epoch) VALUES (:n, :i, 'X', 'Y', '1970-01-01', :e, :a, :l, 0, 0, 0, 0, 0)"),
                {"n": n, "i": f"E{n}", "e": f"a{n}@b.fr", "a": activation, "l": link})
    migrations.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT activation_generation, link_generation, challenge_lock_level "
                                       "FROM voters ORDER BY id")).all()
    (a1, l1, z1), (a2, l2, z2), (a3, l3, z3) = rows
    assert 0 not in (a1, l1, l2, a3) and (z1, z2, z3) == (0, 0, 0)
    assert a2 == 1 and l3 == 12345  # a mailed activation link and a sent réassort link stay valid
