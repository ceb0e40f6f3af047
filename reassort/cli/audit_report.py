"""``audit report --out FILE.html``: the election's report for the bureau de vote's minutes.

One self-contained HTML page (inline CSS and SVG, no script, nothing fetched): charts
by hour of logins, vote codes, réassorts by path and channel, send failures,
regenerations, suspensions and FranceConnect returns; the réassort funnel; totals.
Counts only (``reassort.procedures.audit_report``).
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import current_app

from reassort import runtime
from reassort.cli.audit import LABELS, group
from reassort.cli.common import database, fail, number
from reassort.procedures import audit_report

#: Longest period drawn: 62 days of hourly bars (the bars of a longer one would not show).
MAX_HOURS = 62 * 24


def parse_instant(text: str, zone: ZoneInfo, end: bool) -> dt.datetime:
    """An ISO date (a whole day: its start, or with ``end`` the next day's) or date and time."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if end else 0)
            return dt.datetime.combine(day, dt.time(), zone)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"Date illisible : {text!r} (attendu AAAA-MM-JJ ou AAAA-MM-JJTHH:MM, avec ou sans décalage)")
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def default_period(session, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The election window when it is set, else the span of the trail."""
    opens, closes = runtime.setting("ELECTION_OPENS_AT"), runtime.setting("ELECTION_CLOSES_AT")
    span = audit_report.trail_span(session)
    if span is None and not (opens and closes):
        fail("Journal d'audit vide et période du scrutin non configurée : aucun rapport à établir "
             "(indiquez --from et --to).")
    now = runtime.utcnow().replace(tzinfo=dt.timezone.utc)
    first, last = (span[0].replace(tzinfo=dt.timezone.utc), span[1].replace(tzinfo=dt.timezone.utc)) if span \
        else (now, now)
    start = opens or first
    end = closes or last + audit_report.HOUR
    return start.astimezone(zone), end.astimezone(zone)


@group.command("report")
@click.option("--out", "out_path", required=True, metavar="FICHIER.html", help="Page HTML à écrire.")
@click.option("--from", "start_text", metavar="DATE", help="Début (AAAA-MM-JJ ou date et heure ISO) ; "
              "par défaut l'ouverture du scrutin, sinon le premier événement.")
@click.option("--to", "end_text", metavar="DATE", help="Fin, exclue (une date seule : jusqu'à la fin de ce jour) ; "
              "par défaut la clôture du scrutin, sinon le dernier événement.")
@click.option("--timezone", "zone_name", default="Europe/Paris", show_default=True,
              help="Fuseau des heures affichées.")
def report(out_path: str, start_text: str | None, end_text: str | None, zone_name: str) -> None:
    """Établit le rapport du scrutin (comptes par heure, entonnoir) : une page HTML autonome."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"Fuseau horaire inconnu : {zone_name!r} (par exemple Europe/Paris, America/Cayenne)")
    with database() as session:
        start, end = default_period(session, zone) if not (start_text and end_text) else (None, None)
        start = parse_instant(start_text, zone, end=False) if start_text else start
        end = parse_instant(end_text, zone, end=True) if end_text else end
        assert start is not None and end is not None  # noqa: S101  (both set above, or fail() ended the command)
        if end <= start:
            fail("La fin de la période doit suivre son début.")
        if (end - start) > dt.timedelta(hours=MAX_HOURS):
            fail(f"Période trop longue ({(end - start).days} jours) : {MAX_HOURS // 24} jours au plus, "
                 "choisissez-la avec --from et --to.")
        built = audit_report.build(session, start, end, zone_name)
    page = current_app.jinja_env.get_template("reports/audit.html").render(
        report=built, election=runtime.setting("ELECTION_TITLE"), organiser=runtime.setting("ELECTION_ORGANISER"),
        generated=dt.datetime.now(zone), number=number, labels=LABELS,
        totals=[(e, built.totals[e]) for e in LABELS if e in built.totals]
        + sorted((e, n) for e, n in built.totals.items() if e not in LABELS))
    try:
        with open(out_path, "w", encoding="utf-8") as out:
            out.write(page)
    except OSError as exc:
        fail(f"Écriture impossible dans {out_path} : {exc.strerror or exc}")
    click.echo(f"Rapport écrit dans {os.path.abspath(out_path)} : {number(built.events_in_period)} événement(s) "
               f"du {built.start:%d/%m/%Y %H h} au {built.end:%d/%m/%Y %H h}.")
