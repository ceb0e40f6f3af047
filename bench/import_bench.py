"""Benchmark of ``voters import``: rows per second and peak memory.

Generates ``--rows`` voters (default 100,000) to a temporary CSV, imports them into a
fresh temporary SQLite database (and, with ``--postgres``, into a schema of its own
on the PostgreSQL server, dropped afterwards), re-imports the same file (the re-import
path: staged, compared, every voter unchanged), and times a plain ``sqlite3``
executemany of the very same stored rows for a ratio.  The import checks the rows in a
pool of processes; the CPU of both is printed (the machine's load moves wall times).  Run from the project root::

    .venv/bin/python -m bench.import_bench --rows 100000 [--postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
import unicodedata
import uuid

PEPPER = "bench-pepper-0123456789abcdef0123456789"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOMS = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
        "MOREAU", "SIMON", "LAURENT", "LEFÈVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX",
        "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "MERCIER", "DUPONT", "CASANOVA", "PAOLI"]
PRENOMS = ["Marie", "Jean", "Anne", "Pierre", "Hélène", "Louis", "Élodie", "François", "Camille",
           "Nicolas", "Sophie", "Julien", "Claire", "Mathieu", "Chloé", "Antoine", "Léa", "Hugo"]
COMMUNES = ["75056", "69123", "13055", "31555", "33063", "59350", "67482", "2A004", "2B033", "97411"]
SCRUTINS = ["CAP académique — professeurs certifiés", "Comité social d'administration ministériel",
            "CSA académique", "CAP nationale — agrégés", "CCP — contractuels"]


def nir15(rng: random.Random, year: int, month: int, commune: str) -> str:
    """A NIR of 15 characters with its key (Corsica's 2A/2B count as 19/18 in the key)."""
    body = f"{rng.choice('12')}{year % 100:02d}{month:02d}{commune}{rng.randint(1, 999):03d}"
    numeric = body.replace("2A", "19", 1) if body[5:7] == "2A" else body.replace("2B", "18", 1) \
        if body[5:7] == "2B" else body
    return body + f"{97 - int(numeric) % 97:02d}"


def ascii_only(text: str) -> str:
    """Accents dropped, as directories do for addresses."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def generate_csv(path: str, rows: int, seed: int = 1) -> None:
    """Write ``rows`` realistic voters: NUMEN and NIR, NUMEN only or NIR only; 1–3 scrutins."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        out.write("identifiant;nom;prenoms;date_naissance;lieu_naissance;email;numen;nir;scrutins\r\n")
        for n in range(1, rows + 1):
            nom, prenom = rng.choice(NOMS), rng.choice(PRENOMS)
            year, month, day = rng.randint(1958, 2000), rng.randint(1, 12), rng.randint(1, 28)
            commune = rng.choice(COMMUNES)
            born = f"{year}-{month:02d}-{day:02d}" if n % 2 else f"{day:02d}/{month:02d}/{year}"
            numen = f"{n % 90 + 10:02d}E{n:07d}ABC" if n % 3 else ""
            nir = nir15(rng, year, month, commune[:2] + commune[2:]) if n % 3 != 1 else ""
            scrutins = "|".join(rng.sample(SCRUTINS, rng.randint(1, 3)))
            email = ascii_only(f"{prenom.lower()}.{nom.lower()}{n}@ac-academie.fr")
            out.write(f"E{n:07d};{nom};{prenom} Claire;{born};{commune};{email};{numen};{nir};{scrutins}\r\n")


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU of this process, all threads, or of its ended children (the checking
    processes): the wall time depends on the machine's load, CPU time hardly."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_import(url: str, csv_path: str, label: str) -> dict:
    """Migrate a fresh database at ``url``, import twice (create, then update); return timings."""
    from app import create_app
    from reassort import importer
    from reassort.storage import migrations
    from reassort.web.extensions import db

    app = create_app({"DATABASE_URL": url, "HASH_PEPPER": PEPPER, "ENV": "development",
                      "MAIL_BACKEND": "console", "SMS_BACKEND": "console"})
    with app.app_context():
        migrations.upgrade(db.engine)
        timings = {}
        for phase in ("création", "mise à jour"):
            session = db.new_session()
            start, cpu = time.perf_counter(), cpu_seconds()
            children = cpu_seconds(resource.RUSAGE_CHILDREN)
            report = importer.import_voters(session, csv_path, PEPPER)
            timings[phase], cpu = time.perf_counter() - start, cpu_seconds() - cpu
            children = cpu_seconds(resource.RUSAGE_CHILDREN) - children
            session.close()
            assert report.ok, report.errors[:5]
            print(f"[{label}] {phase:12s}: {report.rows:>9,d} lignes en {timings[phase]:6.2f} s "
                  f"→ {report.rows / timings[phase]:>9,.0f} lignes/s  (CPU : import {cpu:.2f} s, processus de "
                  f"contrôle {children:.2f} s ; {report.created:,d} créés, {report.changed:,d} modifiés, "
                  f"{report.unchanged:,d} inchangés)")
        db.engine.dispose()
    return timings


def raw_sqlite_insert(source_db: str, rows: int) -> float:
    """Seconds for a bare ``sqlite3`` executemany of the stored rows into an empty copy of the schema."""
    src = sqlite3.connect(source_db)
    voters = src.execute("SELECT * FROM voters ORDER BY id").fetchall()
    scrutins = src.execute("SELECT voter_id, name FROM scrutins ORDER BY id").fetchall()
    schema = [sql for (sql,) in src.execute(
        "SELECT sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL "
        "AND name NOT LIKE 'alembic%'")]
    src.close()
    assert len(voters) == rows
    target = source_db + ".raw"
    dst = sqlite3.connect(target, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        dst.execute(f"PRAGMA {pragma}")
    for sql in schema:
        dst.execute(sql)
    marks = ",".join("?" * len(voters[0]))
    start = time.perf_counter()
    dst.execute("BEGIN")
    # Only "?" placeholders are interpolated; the values go as parameters.
    dst.executemany(f"INSERT INTO voters VALUES ({marks})", voters)  # noqa: S608  # nosec B608
    dst.executemany("INSERT INTO scrutins (voter_id, name) VALUES (?, ?)", scrutins)
    dst.execute("COMMIT")
    elapsed = time.perf_counter() - start
    dst.close()
    return elapsed


def postgres_url(base: str) -> tuple[str, str] | None:
    """A URL whose search_path is a new schema of this run (other tests use the database too)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        engine = create_engine(base)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except OperationalError as exc:
        print(f"PostgreSQL injoignable : {exc.orig}", file=sys.stderr)
        return None
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="importer aussi dans PostgreSQL")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)

    print("Charge de la machine (1, 5, 15 min) : " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" sur {os.cpu_count()} cœurs")
    with tempfile.TemporaryDirectory(prefix="reassort-bench-") as tmp:
        csv_path = os.path.join(tmp, "electeurs.csv")
        start = time.perf_counter()
        generate_csv(csv_path, args.rows)
        print(f"CSV de {args.rows:,d} électeurs généré en {time.perf_counter() - start:.1f} s "
              f"({os.path.getsize(csv_path) / 2**20:.1f} Mio)")
        db_path = os.path.join(tmp, "bench.db")
        timings = run_import(f"sqlite:///{db_path}", csv_path, "SQLite")
        print(f"Pic de mémoire (RSS) après l'import : {peak_rss_mib():.0f} Mio")
        raw = raw_sqlite_insert(db_path, args.rows)
        print(f"sqlite3 executemany seul (mêmes lignes, sans lecture ni contrôle) : {raw:.2f} s "
              f"→ {args.rows / raw:,.0f} lignes/s ; rapport import/brut = {timings['création'] / raw:.1f}")
        if args.postgres:
            found = postgres_url(args.postgres_url)
            if found:
                url, schema = found
                try:
                    run_import(url, csv_path, "PostgreSQL")
                finally:
                    drop_schema(args.postgres_url, schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
