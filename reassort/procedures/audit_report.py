"""The election's report (``audit report``): counts by hour, funnel, totals — never a person.

Read from the audit trail with a few grouped queries (the database does the counting:
millions of rows stay there), then laid out as inline SVG charts by ``rules.charts``.
Nothing that names a voter leaves this module: no voter id, no IP hash, no detail but
the short words of the code (channel, path, reason, field).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from reassort.procedures import audit
from reassort.rules import charts
from reassort.storage.models import AuditEvent

HOUR = dt.timedelta(hours=1)
BLUE, RED, GREEN, ORANGE, PURPLE, GREY = "#000091", "#c9191e", "#18753c", "#b34000", "#6a6af4", "#666666"
#: Events whose detail the report splits on (the others are counted by event only).
DETAILED = ("login_failed", "code_failed", "link_requested", "link_send_failed", "throttled", "challenge_locked",
            "franceconnect_mismatch", "franceconnect_error")
#: Events that start or answer a réassort request (step 1 of the funnel).
REASSORT_STARTS = ("challenge_failed", "challenge_locked", "link_requested", "link_send_failed",
                   "franceconnect_match", "franceconnect_mismatch", "franceconnect_error", "franceconnect_cancel")


def _is(event: str, word: str | None = None, path: str | None = None):
    """A predicate on (event, path, word) for a chart's series."""
    return lambda e, p, w: e == event and (word is None or w == word) and (path is None or p == path)


#: Each chart: id, title, and its series (label, colour, which events it counts).
CHARTS = [
    ("connexions", "Connexions au portail", [
        ("réussies", GREEN, _is("login_ok")), ("refusées", RED, _is("login_failed"))]),
    ("codes", "Codes de vote saisis", [
        ("acceptés", GREEN, _is("code_ok")), ("refusés", RED, _is("code_failed")),
        ("hors période", GREY, _is("code_outside_window"))]),
    ("reassorts", "Réassorts : liens envoyés, par voie et canal", [
        ("question défi, SMS", BLUE, _is("link_requested", "sms", audit.DEFI)),
        ("question défi, courriel", PURPLE, _is("link_requested", "email", audit.DEFI)),
        ("FranceConnect, courriel", ORANGE, _is("link_requested", "email", audit.FRANCECONNECT))]),
    ("echecs-envoi", "Échecs d'envoi des liens", [
        ("SMS", BLUE, _is("link_send_failed", "sms")), ("courriel", PURPLE, _is("link_send_failed", "email"))]),
    ("regenerations", "Codes régénérés", [("codes régénérés", GREEN, _is("code_regenerated"))]),
    ("suspensions", "Suspensions de la question défi (trop de réponses fausses)", [
        ("suspensions posées", RED, _is("challenge_locked", "started"))]),
    ("franceconnect", "Retours de FranceConnect", [
        ("identité concordante", GREEN, _is("franceconnect_match")),
        ("identité discordante", RED, _is("franceconnect_mismatch")),
        ("erreur", ORANGE, _is("franceconnect_error")), ("abandon", GREY, _is("franceconnect_cancel"))]),
]
#: FranceConnect mismatch fields, in French.
FIELDS = {"nom": "nom de naissance", "prenom": "prénoms", "date": "date de naissance", "lieu": "lieu de naissance"}


@dataclass
class Report:
    """What the page shows: the period, the charts (SVG), totals, funnel and reasons."""

    start: dt.datetime
    end: dt.datetime
    zone: str
    events_in_period: int
    events_outside: int
    hours: list[dt.datetime] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    funnel: list[tuple[str, int]] = field(default_factory=list)
    funnel_svg: str = ""
    mismatch_fields: list[tuple[str, int]] = field(default_factory=list)
    franceconnect_errors: list[tuple[str, int]] = field(default_factory=list)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _hour_bucket(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", AuditEvent.at)
    return func.strftime("%Y-%m-%d %H:00:00", AuditEvent.at)


def _as_hour(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def trail_span(session: Session) -> tuple[dt.datetime, dt.datetime] | None:
    """First and last instants of the trail (naive UTC), or ``None`` when it is empty."""
    first, last = session.execute(select(func.min(AuditEvent.at), func.max(AuditEvent.at))).one()
    return None if first is None else (first, last)


def build(session: Session, start: dt.datetime, end: dt.datetime, zone: str) -> Report:
    """The report of the events in ``[start, end)`` (aware datetimes), hours shown in ``zone``."""
    tz = ZoneInfo(zone)
    start_utc = _utc(start).replace(minute=0, second=0, microsecond=0)
    end_utc = _utc(end)
    hours_utc = []
    moment = start_utc
    while moment < end_utc:
        hours_utc.append(moment)
        moment += HOUR
    index = {hour: i for i, hour in enumerate(hours_utc)}
    in_period = and_(AuditEvent.at >= start_utc, AuditEvent.at < end_utc)
    bucket = _hour_bucket(session)
    detail = case((AuditEvent.event.in_(DETAILED), AuditEvent.detail), else_=None)
    rows = session.execute(select(bucket, AuditEvent.event, detail, func.count())
                           .where(in_period).group_by(bucket, AuditEvent.event, detail))
    per_hour: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * len(hours_utc))
    totals: dict[str, int] = defaultdict(int)
    mismatch: dict[str, int] = defaultdict(int)
    fc_errors: dict[str, int] = defaultdict(int)
    for hour, event, word, count in rows:
        path, word = audit.split_path(word)
        per_hour[(event, path, word)][index[_as_hour(hour)]] += count
        totals[event] += count
        if event == "franceconnect_mismatch":
            for name in filter(None, word.split(",")):
                mismatch[FIELDS.get(name, "autre")] += count
        elif event == "franceconnect_error":
            fc_errors[word or "inconnu"] += count
    everything = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    report = Report(start=start_utc.replace(tzinfo=dt.timezone.utc).astimezone(tz),
                    end=end.astimezone(tz), zone=zone, events_in_period=sum(totals.values()),
                    events_outside=everything - sum(totals.values()), totals=dict(totals),
                    mismatch_fields=sorted(mismatch.items(), key=lambda kv: -kv[1]),
                    franceconnect_errors=sorted(fc_errors.items(), key=lambda kv: -kv[1]))
    local_hours = [hour.replace(tzinfo=dt.timezone.utc).astimezone(tz) for hour in hours_utc]
    report.hours = local_hours
    for chart_id, title, definitions in CHARTS:
        series = []
        for label, color, wanted in definitions:
            counts = [0] * len(hours_utc)
            for (event, path, word), values in per_hour.items():
                if wanted(event, path, word):
                    counts = [a + b for a, b in zip(counts, values, strict=True)]
            series.append(charts.Series(label, color, tuple(counts)))
        report.charts.append({"id": chart_id, "title": title, "series": series,
                              "svg": charts.bar_chart(chart_id, title, local_hours, series),
                              "days": _by_day(local_hours, series)})
    report.funnel = funnel(session, start_utc, end_utc)
    report.funnel_svg = charts.funnel_chart("entonnoir", "Entonnoir du réassort (électeurs distincts)",
                                            report.funnel)
    return report


def _by_day(hours: list[dt.datetime], series: list[charts.Series]) -> list[tuple[str, list[int]]]:
    """One row per local day: the day and each series' total."""
    days: dict[dt.date, list[int]] = {}
    for i, hour in enumerate(hours):
        row = days.setdefault(hour.date(), [0] * len(series))
        for j, s in enumerate(series):
            row[j] += s.counts[i]
    return [(f"{day:%d/%m/%Y}", row) for day, row in days.items()]


def _voters(session: Session, condition) -> int:
    return session.scalar(select(func.count(func.distinct(AuditEvent.voter_id)))
                          .where(condition, AuditEvent.voter_id.is_not(None))) or 0


def funnel(session: Session, start_utc: dt.datetime, end_utc: dt.datetime) -> list[tuple[str, int]]:
    """Distinct voters at each step: asked → sent a link → opened it → regenerated → typed a code after."""
    period = and_(AuditEvent.at >= start_utc, AuditEvent.at < end_utc)
    asked = or_(AuditEvent.event.in_(REASSORT_STARTS),
                and_(AuditEvent.event == "throttled",
                     or_(AuditEvent.detail.like("links_per_hour"), AuditEvent.detail.like("global_cap_%"),
                         AuditEvent.detail.like(audit.FRANCECONNECT + ":%"))))
    later = aliased(AuditEvent)
    voted_after = exists().where(later.voter_id == AuditEvent.voter_id, later.event == "code_ok",
                                 later.at >= AuditEvent.at, later.at < end_utc)
    return [
        ("ont demandé un réassort", _voters(session, and_(period, asked))),
        ("ont reçu un lien", _voters(session, and_(period, AuditEvent.event == "link_requested"))),
        ("ont ouvert le lien", _voters(session, and_(period, AuditEvent.event == "link_opened"))),
        ("ont régénéré leur code", _voters(session, and_(period, AuditEvent.event == "code_regenerated"))),
        ("ont saisi un code de vote ensuite",
         _voters(session, and_(period, AuditEvent.event == "code_regenerated", voted_after))),
    ]
