"""Réassort's Prometheus metrics: counters and histograms whose labels are allow-listed.

Every metric is declared here or through :func:`counter` / :func:`histogram` with,
for each label, the values it may take (a set, or a function saying yes or no).
A value outside its allow-list is counted as ``other``: a label can never hold an
address, a number, a voter id or a token, whatever a caller passes by mistake.

Where the counts come from (so that the procedures carry no metric code):

- the audit trail (``reassort.procedures.audit_metrics``): every audited event,
  counted when its transaction commits;
- the one delivery wrapper (``reassort.adapters.messaging``): :func:`delivery`;
- the request log's ``after_request`` (``reassort.web.request_log``): :func:`observe_request`;
- :func:`shed` for load shedding, called where a request is refused to spare the service.

Under gunicorn every worker writes its counts to files in ``PROMETHEUS_MULTIPROC_DIR``
(set by ``gunicorn.conf.py`` before this module is imported, emptied at start) and
:func:`exposition` adds them up; elsewhere (tests, ``flask run``) the counts live in
the process.  No Flask, no database here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from importlib import resources

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, disable_created_metrics, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.mmap_dict import MmapedDict

from reassort.rules import identity

# No ``*_created`` series: Prometheus does not need them, and they double what each scrape carries.
disable_created_metrics()

OTHER = "other"
#: Environment variable of prometheus_client's multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

Allowed = frozenset[str] | Callable[[str], bool]


def _public_domains() -> frozenset[str]:
    text = resources.files("reassort.data").joinpath("public-mail-domains.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.lstrip().startswith("#"))


#: The large public mailbox domains named in labels (``reassort/data/public-mail-domains.txt``).
PUBLIC_DOMAINS = _public_domains()
#: Regions of French mobile numbers (``reassort.rules.contacts.FRENCH_REGIONS``), lower case, for SMS.
SMS_REGIONS = frozenset({"fr", "gp", "mq", "gf", "re", "yt", "pm", "bl", "mf", "wf", "pf", "nc"})

CHANNELS = frozenset({"sms", "email"})
#: The delivery backends of ``reassort.adapters.messaging`` (a test keeps both lists equal).
PROVIDERS = frozenset({"console", "outbox", "smtp", "http"})
PATHS = frozenset({"defi", "franceconnect"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUSES = frozenset(str(code) for code in range(100, 600))
#: Why a request was shed; callers of :func:`shed` add theirs here (anything else is « other »).
SHED_REASONS = frozenset({"overload", "queue_full", "database", "ratelimit_storage", "delivery", "suspended"})
#: Reasons of ``FranceConnectError`` (the adapter) and of the view (« email »: no usable address).
FRANCECONNECT_ERRORS = frozenset({"config", "discovery", "id_token", "jwks", "no_code", "provider_error",
                                  "state", "token", "userinfo", "email"})
FRANCECONNECT_FIELDS = frozenset({identity.FAMILY_NAME, identity.GIVEN_NAME, identity.BIRTH_DATE,
                                  identity.BIRTH_PLACE})

#: Endpoints of the app's routes (``allow_endpoints``), the only values of an ``endpoint`` label.
_ENDPOINTS: set[str] = {"unmatched"}


def allow_endpoints(names: Iterable[str]) -> None:
    """Allow the names of the app's view functions as ``endpoint`` values (set from the URL map)."""
    _ENDPOINTS.update(str(n) for n in names)


def endpoint_allowed(value: str) -> bool:
    return value in _ENDPOINTS


def clean(allowed: Allowed, value: object) -> str:
    """``value`` if its allow-list admits it, else ``other``."""
    text = "" if value is None else str(value)
    if isinstance(allowed, frozenset):
        return text if text in allowed else OTHER
    return text if allowed(text) else OTHER


class Family:
    """A counter or histogram with its labels' allow-lists: ``inc(**labels)``, ``observe(v, **labels)``."""

    def __init__(self, metric: Counter | Histogram, labels: dict[str, Allowed]):
        self.metric = metric
        self.labels = labels
        self.name = metric._name

    def _child(self, given: dict[str, object]):
        if set(given) != set(self.labels):  # a programming error, not an input
            raise TypeError(f"{self.name} : étiquettes {sorted(self.labels)} attendues, reçu {sorted(given)}")
        if not self.labels:
            return self.metric
        return self.metric.labels(**{name: clean(self.labels[name], given[name]) for name in self.labels})

    def inc(self, amount: float = 1, **labels: object) -> None:
        self._child(labels).inc(amount)

    def observe(self, value: float, **labels: object) -> None:
        self._child(labels).observe(value)


#: Every family declared, by metric name (tests check each label of each scrape against it).
FAMILIES: dict[str, Family] = {}


def counter(name: str, documentation: str, **labels: Allowed) -> Family:
    """Declare a counter ``name`` (ending in ``_total``) whose labels take only the allowed values."""
    family = Family(Counter(name, documentation, labelnames=tuple(labels)), labels)
    FAMILIES[family.name] = family
    return family


def histogram(name: str, documentation: str, buckets: tuple[float, ...], **labels: Allowed) -> Family:
    """Declare a histogram ``name`` (in seconds) whose labels take only the allowed values."""
    family = Family(Histogram(name, documentation, labelnames=tuple(labels), buckets=buckets), labels)
    FAMILIES[family.name] = family
    return family


# -- HTTP -------------------------------------------------------------------------------

#: From a cached page (5 ms) to a bcrypt check under load (1–2 s) and a slow provider (10 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = counter("reassort_http_requests_total", "Requêtes HTTP servies, par route, méthode et statut.",
                        endpoint=endpoint_allowed, method=METHODS, status=STATUSES)
HTTP_LATENCY = histogram("reassort_http_request_duration_seconds",
                         "Durée de traitement des requêtes HTTP par l'application, par route.",
                         LATENCY_BUCKETS, endpoint=endpoint_allowed, method=METHODS)
SHED = counter("reassort_shed_total", "Requêtes refusées pour préserver le service (délestage), par motif.",
               reason=SHED_REASONS)


def observe_request(endpoint: str | None, method: str, status: int, seconds: float | None) -> None:
    """Count one request served (the request log's ``after_request``)."""
    endpoint = endpoint or "unmatched"
    HTTP_REQUESTS.inc(endpoint=endpoint, method=method, status=status)
    if seconds is not None:
        HTTP_LATENCY.observe(seconds, endpoint=endpoint, method=method)


def shed(reason: str) -> None:
    """Count one request refused to spare the service; ``reason`` from ``SHED_REASONS``."""
    SHED.inc(reason=reason)


# -- deliveries ---------------------------------------------------------------------------

DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

DELIVERIES = counter("reassort_deliveries_total",
                     "Messages remis au fournisseur (accepted) ou refusés (failed), par canal, fournisseur "
                     "et domaine du destinataire (grands domaines publics seulement, sinon « other »).",
                     channel=CHANNELS, provider=PROVIDERS, domain=PUBLIC_DOMAINS | SMS_REGIONS,
                     outcome=frozenset({"accepted", "failed"}))
DELIVERY_LATENCY = histogram("reassort_delivery_duration_seconds",
                             "Durée de la remise d'un message au fournisseur, par canal et fournisseur.",
                             DELIVERY_BUCKETS, channel=CHANNELS, provider=PROVIDERS)

_E164_REGION = re.compile(r"\+(\d+)")
#: Country calling codes of French mobile numbers → region (``rules.contacts.FRENCH_REGIONS``).
_CALLING_CODES = {"33": "fr", "590": "gp", "596": "mq", "594": "gf", "262": "re", "508": "pm",
                  "681": "wf", "689": "pf", "687": "nc"}


def recipient_domain(channel: str, to: str) -> str:
    """The label of a recipient: a large public domain by name, a French mobile region, else ``other``."""
    if channel == "email":
        domain = to.rpartition("@")[2].strip().lower().rstrip(".")
        return clean(PUBLIC_DOMAINS, domain)
    match = _E164_REGION.match(to.strip())
    if match:
        digits = match.group(1)
        for code in ("590", "596", "594", "262", "508", "681", "689", "687", "33"):
            if digits.startswith(code):
                return _CALLING_CODES[code]
    return OTHER


def delivery(channel: str, provider: str, to: str, ok: bool, seconds: float) -> None:
    """Count one message handed to ``provider`` (``ok``) or refused by it."""
    DELIVERIES.inc(channel=channel, provider=provider, domain=recipient_domain(channel, to),
                   outcome="accepted" if ok else "failed")
    DELIVERY_LATENCY.observe(seconds, channel=channel, provider=provider)


# -- exposition ---------------------------------------------------------------------------

def multiprocess_dir() -> str | None:
    """The directory of the workers' metric files when running under gunicorn, else ``None``."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The metrics as text (OpenMetrics when ``accept`` asks for it) and their content type."""
    encoder, content_type = choose_encoder(accept or "")
    path = multiprocess_dir()
    if not path:
        return encoder(REGISTRY), content_type
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    with _files_locked(path, exclusive=False):  # never while a dead worker's files are being folded
        return encoder(registry), content_type


@contextlib.contextmanager
def _files_locked(path: str, exclusive: bool) -> Iterator[None]:
    with open(os.path.join(path, ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield  # released when the file closes


def worker_died(pid: int, path: str) -> None:
    """Fold a dead worker's counts into one archive file per type (gunicorn's ``child_exit``).

    Every worker recycled by gunicorn (``max_requests``) would otherwise leave its files
    behind, and every scrape would read thousands of them by the end of the poll.  The
    counts are added key by key (counters and histogram buckets are sums), the archive
    replaced at once, then the dead worker's file removed — all under an exclusive lock
    that scrapes share, so that no scrape ever counts a worker twice or not at all.
    """
    multiprocess.mark_process_dead(pid, path)  # its live gauges, if any
    with _files_locked(path, exclusive=True):
        for kind in ("counter", "histogram"):
            dead = os.path.join(path, f"{kind}_{pid}.db")
            if not os.path.exists(dead):
                continue
            archive = os.path.join(path, f"{kind}_archive.db")
            totals: dict[str, float] = defaultdict(float)
            for source in (archive, dead):
                if os.path.exists(source):
                    for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(source):
                        totals[key] += value
            folded = MmapedDict(archive + ".new")  # not « *.db »: no scrape reads it half written
            try:
                for key, value in totals.items():
                    folded.write_value(key, value, 0.0)
            finally:
                folded.close()
            os.replace(archive + ".new", archive)
            os.remove(dead)
