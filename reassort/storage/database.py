"""SQLAlchemy 2 engine and sessions, bound to the app by ``Database.init_app``.

One session per request (``db.session``), removed at the end of the request.
Plain SQLAlchemy rather than Flask-SQLAlchemy: the domain modules take a session
and know nothing of Flask, and the CLI and benchmarks use the same engine.
"""

from __future__ import annotations

import os
from typing import cast

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, instance_path: str | None = None) -> Engine:
    """Create the engine; relative SQLite paths live under the instance folder."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        relative = url[len("sqlite:///"):]
        base = os.path.dirname(instance_path) if instance_path else os.getcwd()
        path = os.path.join(base, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        url = "sqlite:///" + path
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets readers go on while one writer commits; foreign keys on.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def changed_rows(result) -> int:
    """Rows an UPDATE or DELETE changed (``Session.execute`` is typed as returning a plain ``Result``)."""
    return cast(CursorResult, result).rowcount


class Database:
    """Engine and session factory per app; ``db.session`` is the current request's."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"], app.instance_path)
        app.extensions["reassort_db"] = (engine, sessionmaker(engine, expire_on_commit=False))

        @app.teardown_appcontext
        def _close_session(_exc):
            session = g.pop("db_session", None)
            if session is not None:
                session.close()

    @property
    def engine(self) -> Engine:
        return current_app.extensions["reassort_db"][0]

    def new_session(self) -> Session:
        """A session of its own (CLI, threads), to be closed by the caller."""
        return current_app.extensions["reassort_db"][1]()

    @property
    def session(self) -> Session:
        """The current request's session, opened on first use."""
        if "db_session" not in g:
            g.db_session = self.new_session()
        return g.db_session

    def ping(self) -> str | None:
        """``None`` when the database answers a trivial query, else the error's type name."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return type(exc).__name__
        return None
