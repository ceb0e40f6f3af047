"""A re-import into a register that has voters: staged whole, compared, then applied in short transactions.

During the poll, voters log in, vote and regenerate codes while the IT team
re-imports: nothing may hold their rows for long.  So the file goes first, whole,
into two temporary tables (``import_rows``, ``import_scrutins``: the
connection's own, nobody else sees or waits for them) while it is checked; only
when every row is valid are the differences computed, field by field, in SQL,
and then written ``batch`` voters per transaction: each transaction holds the
locks of at most that many voter rows, for milliseconds.  Unchanged voters are
not written at all.

Addresses are unique: a voter may take the address another voter of the file
gives up (two voters swapping theirs, in one file).  Those voters are written
last, in one transaction: first each of them gets a placeholder address that no
real address can be (no ``@``), then the addresses of the file.

What the file does not say (password, question défi, vote code, counters) is
never touched.  Voters absent from the file are counted, and deactivated only
when asked (``reassort.procedures.register.deactivate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence
from typing import cast as typed

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    except_,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.engine import Connection

from reassort.importer.writer import GENERATIONS, NEW_VOTER_COUNTERS, VOTER_FIELDS, next_voter_id
from reassort.storage.models import Scrutin, Voter

VOTERS = typed(Table, Voter.__table__)
SCRUTINS = typed(Table, Scrutin.__table__)
STAGE = MetaData()
STAGED = Table("import_rows", STAGE,
               Column("line", Integer, primary_key=True, autoincrement=False),
               *(Column(name, VOTERS.c[name].type) for name in VOTER_FIELDS),
               Column("voter_id", Integer),
               Column("taking", Integer, nullable=False, server_default="0"),
               prefixes=["TEMPORARY"])
STAGED_SCRUTINS = Table("import_scrutins", STAGE,
                        Column("line", Integer, nullable=False),
                        Column("position", Integer, nullable=False),
                        Column("name", String(200), nullable=False),
                        prefixes=["TEMPORARY"])
#: The stored fields compared, and the file's column each comes from (named in the report).
COMPARED = {"nom": "nom", "prenoms": "prenoms", "date_naissance": "date_naissance",
            "lieu_naissance": "lieu_naissance", "email": "email", "numen_digest": "numen", "nir_digest": "nir"}
FIELD_NAMES = tuple(COMPARED.values()) + ("scrutins",)
SCRUTINS_CHANGED = 1 << len(COMPARED)
#: Identifiants of absent voters the report names.
ABSENT_SAMPLE = 20
#: Ids in one ``IN (…)``: below SQLite's limit on parameters.
MAX_IDS_PER_STATEMENT = 10_000


@dataclass
class Changes:
    """What the staged file would change; every count is of voters."""

    new: int = 0
    changed: dict[int, int] = field(default_factory=dict)  # voter id → bits of FIELD_NAMES
    unchanged: int = 0
    fields: dict[str, int] = field(default_factory=dict)   # file column → voters whose value changes
    absent: list[int] = field(default_factory=list)        # active voters missing from the file
    absent_sample: list[str] = field(default_factory=list)  # the first of their identifiants
    absent_deactivated: int = 0                            # missing, already deactivated
    present_deactivated: int = 0                           # in the file, deactivated: they stay so


def drop(conn: Connection) -> None:
    """Remove the staging tables (they live as long as the connection, which returns to the pool)."""
    schema = "pg_temp" if conn.dialect.name == "postgresql" else "temp"
    for table in ("import_scrutins", "import_rows"):
        conn.execute(text(f"DROP TABLE IF EXISTS {schema}.{table}"))


def create(conn: Connection) -> None:
    drop(conn)
    STAGE.create_all(conn)


def conflicts(conn: Connection) -> list[tuple[int, str]]:
    """After staging: give known voters their ids; ``(line, identifiant)`` of each row whose
    address is held by a voter absent from the file (that one keeps it: refused).

    Rows whose address is held by another voter of the file are marked ``taking``:
    they are written once every address given up is free.
    """
    conn.execute(text("CREATE INDEX import_scrutins_line ON import_scrutins (line)"))
    conn.execute(update(STAGED).values(voter_id=VOTERS.c.id).where(VOTERS.c.identifiant == STAGED.c.identifiant))
    conn.execute(text("CREATE INDEX import_rows_voter ON import_rows (voter_id)"))
    owner, other = VOTERS.alias("owner"), STAGED.alias("other")
    held = (select(STAGED.c.line, owner.c.identifiant, exists().where(other.c.voter_id == owner.c.id))
            .join(owner, owner.c.email == STAGED.c.email)
            .where(owner.c.identifiant != STAGED.c.identifiant).order_by(STAGED.c.line))
    refused: list[tuple[int, str]] = []
    taking: list[tuple[int, str]] = []
    for line, identifiant, owner_in_file in conn.execute(held):
        (taking if owner_in_file else refused).append((line, identifiant))
    for part in _parts([line for line, _ident in taking]):
        conn.execute(update(STAGED).values(taking=1).where(STAGED.c.line.in_(part)))
    return refused


def changes(conn: Connection) -> Changes:
    """Compare the staged file with the register, field by field (never reading values out)."""
    result = Changes()
    result.new = conn.execute(select(func.count()).where(STAGED.c.voter_id.is_(None))).scalar() or 0
    known = conn.execute(select(func.count()).where(STAGED.c.voter_id.is_not(None))).scalar() or 0
    differs = [VOTERS.c[name].is_distinct_from(STAGED.c[name]) for name in COMPARED]
    rows = conn.execute(select(STAGED.c.voter_id, *(case((d, 1), else_=0) for d in differs))
                        .join(VOTERS, VOTERS.c.id == STAGED.c.voter_id).where(or_(*differs)))
    for voter_id, *flags in rows:
        result.changed[voter_id] = sum(1 << i for i, flag in enumerate(flags) if flag)
    in_file = (select(STAGED.c.voter_id, STAGED_SCRUTINS.c.name)
               .join(STAGED, STAGED.c.line == STAGED_SCRUTINS.c.line).where(STAGED.c.voter_id.is_not(None)))
    in_register = (select(SCRUTINS.c.voter_id, SCRUTINS.c.name)
                   .join(STAGED, STAGED.c.voter_id == SCRUTINS.c.voter_id))
    gained, lost = except_(in_file, in_register).subquery(), except_(in_register, in_file).subquery()
    for (voter_id,) in conn.execute(union(select(gained.c.voter_id), select(lost.c.voter_id))):
        result.changed[voter_id] = result.changed.get(voter_id, 0) | SCRUTINS_CHANGED
    result.unchanged = known - len(result.changed)
    result.fields = {name: sum(1 for bits in result.changed.values() if bits >> i & 1)
                     for i, name in enumerate(FIELD_NAMES)}
    missing = ~exists().where(STAGED.c.voter_id == VOTERS.c.id)
    for voter_id, identifiant, deactivated_at in conn.execute(
            select(VOTERS.c.id, VOTERS.c.identifiant, VOTERS.c.deactivated_at).where(missing).order_by(VOTERS.c.id)):
        if deactivated_at is None:
            result.absent.append(voter_id)
            if len(result.absent_sample) < ABSENT_SAMPLE:
                result.absent_sample.append(identifiant)
        else:
            result.absent_deactivated += 1
    result.present_deactivated = conn.execute(
        select(func.count()).select_from(STAGED.join(VOTERS, VOTERS.c.id == STAGED.c.voter_id))
        .where(VOTERS.c.deactivated_at.is_not(None))).scalar() or 0
    return result


def apply(conn: Connection, found: Changes, batch: int, on_batch: Callable[[], None]) -> None:
    """Write the staged file, ``batch`` voters per transaction (``on_batch`` commits each)."""
    first_id = next_voter_id(conn)
    new_lines = list(conn.scalars(select(STAGED.c.line).where(STAGED.c.voter_id.is_(None), STAGED.c.taking == 0)
                                  .order_by(STAGED.c.line)))
    for part in _parts(new_lines, batch):
        _insert_new(conn, first_id, and_(STAGED.c.taking == 0, STAGED.c.line.between(part[0], part[-1])))
        on_batch()
    taking = set(conn.scalars(select(STAGED.c.voter_id).where(STAGED.c.taking == 1, STAGED.c.voter_id.is_not(None))))
    for part in _parts(sorted(set(found.changed) - taking), batch):
        _update_known(conn, part, [i for i in part if found.changed[i] & SCRUTINS_CHANGED])
        on_batch()
    if conn.execute(select(exists().where(STAGED.c.taking == 1))).scalar():
        taken = STAGED.c.taking == 1
        conn.execute(update(VOTERS).values(email=literal("~") + cast(VOTERS.c.id, String))
                     .where(VOTERS.c.id.in_(select(STAGED.c.voter_id).where(taken))))
        for part in _parts(sorted(taking)):
            _update_known(conn, part, [i for i in part if found.changed.get(i, 0) & SCRUTINS_CHANGED])
        _insert_new(conn, first_id, taken)
        on_batch()


def _insert_new(conn: Connection, first_id: int, which) -> None:
    """New voters (ids from their lines, as ``writer.voter_id_of_line``) and their scrutins."""
    chosen = and_(STAGED.c.voter_id.is_(None), which)
    offset = first_id - 2
    columns = ["id", *VOTER_FIELDS, *NEW_VOTER_COUNTERS]
    counters = [_random_generation(conn) if name in GENERATIONS else literal(value)
                for name, value in NEW_VOTER_COUNTERS.items()]
    rows = select(STAGED.c.line + offset, *(STAGED.c[name] for name in VOTER_FIELDS), *counters).where(chosen)
    conn.execute(insert(VOTERS).from_select(columns, rows))
    conn.execute(insert(SCRUTINS).from_select(["voter_id", "name"], _staged_scrutins(STAGED.c.line + offset, chosen)))


def _random_generation(conn: Connection):
    """A random link/activation generation in 1 … 2**31 - 1 drawn by the database, one per new voter (SEC-46).

    PostgreSQL: 31 bits of ``gen_random_uuid()`` (the system's cryptographic generator);
    SQLite: its own ``random()``, seeded by the system.
    """
    if conn.dialect.name == "postgresql":
        return literal_column("(('x' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8))::bit(32)::int"
                              " & 2147483647) % 2147483646 + 1")
    return literal_column("(abs(random()) % 2147483646) + 1")


def _update_known(conn: Connection, voter_ids: Sequence[int], scrutins_changed: Sequence[int]) -> None:
    """Known voters: the imported fields from the file; their scrutins replaced where they changed."""
    conn.execute(update(VOTERS).values({name: STAGED.c[name] for name in COMPARED})
                 .where(VOTERS.c.id == STAGED.c.voter_id, VOTERS.c.id.in_(voter_ids)))
    if scrutins_changed:
        conn.execute(delete(SCRUTINS).where(SCRUTINS.c.voter_id.in_(scrutins_changed)))
        conn.execute(insert(SCRUTINS).from_select(
            ["voter_id", "name"], _staged_scrutins(STAGED.c.voter_id, STAGED.c.voter_id.in_(scrutins_changed))))


def _staged_scrutins(voter_id, which):
    return (select(voter_id, STAGED_SCRUTINS.c.name).join(STAGED, STAGED.c.line == STAGED_SCRUTINS.c.line)
            .where(which).order_by(STAGED_SCRUTINS.c.line, STAGED_SCRUTINS.c.position))


def _parts(items: Sequence[int], size: int = MAX_IDS_PER_STATEMENT) -> Iterator[Sequence[int]]:
    size = min(max(1, size), MAX_IDS_PER_STATEMENT)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def parts(items: Iterable[int], size: int) -> Iterator[Sequence[int]]:
    """``items`` in lists of at most ``size`` (and of ``MAX_IDS_PER_STATEMENT``)."""
    return _parts(list(items), size)
