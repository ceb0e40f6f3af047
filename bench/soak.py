"""Soak test: many simulated voters doing the whole question-défi réassort at once.

    .venv/bin/python bench/soak.py [--voters 150] [--concurrency 12] [--duration 60] [--workers 3]

Against a real gunicorn (``gunicorn.conf.py``, 3 sync workers by default) on
PostgreSQL (a fresh database, dropped afterwards) and Redis (limits under a key
prefix of the run's own, deleted afterwards), loopback only, bounded in time
(``--duration``) and in work (``--rounds`` réassorts per voter at most).

Each simulated voter, with its own cookie jar: log in → question défi (answer +
NUMEN, link by e-mail to an address of its own) → the link, read from the
outbox → open it → « RÉGÉNÉRER » → the new code read from the page → ``/vote``
with the old code (must fail) → ``/vote`` with the new code (must open the voting
space) → the voting space.  Then again, up to ``--rounds`` times.

Settings are production's where the flow allows: bcrypt cost 12, Redis limits,
PostgreSQL, per-voter limits at their defaults.  Three departures, said in the
report: ``ENV=development`` (the outbox backend, which production refuses, is
how a simulated voter reads its link), ``CAPTCHA_ENABLED=false`` (that is what
the switch is for), and ``RATELIMIT_PER_IP`` raised (every simulated voter comes
from 127.0.0.1; the per-voter limits still apply).

One voter in five (``--double-every``) presses « RÉGÉNÉRER » twice at once, from
two cookie jars holding the same session: exactly one press may regenerate.

Checks, printed at the end (exit status 1 if one fails): no 5xx at all; every
step answered as expected; the audit trail's ``code_regenerated`` count equals
the regenerations the voters saw, and its refusals (``regeneration_conflict`` or
``link_invalid``) equal the second presses; each voter's
stored code is the last one it was shown; the workers' RSS at the end against
after warm-up.  ``--json FILE`` writes the figures for docs/reliability.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from sqlalchemy import create_engine, func, select, text

from bench.procs import children

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PG_ADMIN = os.environ.get("REASSORT_BENCH_SOAK_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REASSORT_BENCH_SOAK_REDIS", "redis://127.0.0.1:6379/0")
PASSWORD = "soak: une phrase de passe assez longue"
ANSWER = "Éléonore"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CODE_RE = re.compile(r'id="code-value" value="([^"]+)"')
LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+(/reassort/lien/\S+)")
CODE_FAILED = "Le code de vote ou le CAPTCHA est incorrect"
HTTP_TIMEOUT = 60


# -- the things started and stopped ----------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class Server:
    """gunicorn in its own process group; always stopped (TERM, then KILL)."""

    def __init__(self, env: dict, port: int, logdir: str):
        self.port, self.env, self.logdir = port, env, logdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(os.path.join(self.logdir, "gunicorn.out"), "wb")
        err = open(os.path.join(self.logdir, "gunicorn.err"), "wb")
        with out, err:
            self.process = subprocess.Popen(  # noqa: S603  (our own venv's gunicorn, fixed arguments)
                [os.path.join(ROOT, ".venv", "bin", "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT, env=self.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("gunicorn s'est arrêté :\n" + self.stderr()[-3000:])
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)  # polling a real server; there is no clock to inject
        raise SystemExit("gunicorn pas prêt en 60 s :\n" + self.stderr()[-3000:])

    def workers(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def stderr(self) -> str:
        with open(os.path.join(self.logdir, "gunicorn.err"), encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


# -- the voters ---------------------------------------------------------------------------

@dataclass
class Voter:
    id: int
    email: str
    numen: str
    code: str


def seed(database_url: str, settings: dict, n: int) -> list[Voter]:
    """Schema (Alembic) and ``n`` activated voters with known secrets, written directly."""
    from app import create_app
    from reassort.procedures import votegate
    from reassort.rules import codes
    from reassort.rules.hashing import bcrypt_hash, normalise_answer
    from reassort.rules.identifiers import numen_digest
    from reassort.storage import migrations
    from reassort.storage.models import Scrutin
    from reassort.storage.models import Voter as VoterRow
    from reassort.web.extensions import db

    app = create_app({**settings, "DATABASE_URL": database_url})
    voters = []
    with app.app_context():
        migrations.upgrade(db.engine)
        rounds = int(app.config["BCRYPT_ROUNDS"])
        # One hash each for all: same password and answer, and seeding stays quick at cost 12.
        pepper = app.config["HASH_PEPPER"]
        password_hash = bcrypt_hash(PASSWORD, rounds, pepper)
        answer_hash = bcrypt_hash(normalise_answer(ANSWER), rounds, pepper)
        with db.new_session() as s:
            for i in range(1, n + 1):
                numen, code = f"{i % 100:02d}S{i:07d}OAK", codes.generate()
                row = VoterRow(identifiant=f"SOAK{i:05d}", nom="SOAK", prenoms="Voter", lieu_naissance=None,
                               date_naissance=dt.date(1970, 1, 1),
                               email=f"soak.{i}@education.gouv.fr", numen_digest=numen_digest(pepper, numen),
                               nir_digest=None, password_hash=password_hash, question_id="q1",
                               answer_hash=answer_hash, code_digest=votegate.code_digest(code),
                               activation_generation=1, link_generation=0, link_window_start=0,
                               links_in_window=0, challenge_failures=0, challenge_locked_until=0,
                               session_epoch=0, scrutins=[Scrutin(name="CAP académique")])
                s.add(row)
                s.flush()
                voters.append(Voter(row.id, row.email, numen, code))
            s.commit()
        db.engine.dispose()
    return voters


class Outbox:
    """Reads the outbox folder the workers write (one JSON file per message), new files only."""

    def __init__(self, folder: str):
        self.folder, self.seen, self.by_address = folder, set(), {}
        self.lock = threading.Lock()

    def link_for(self, address: str, timeout: float = 10) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if address in self.by_address:
                    return self.by_address.pop(address)
                for name in sorted(os.listdir(self.folder)):
                    if name in self.seen or not name.endswith(".json") or name.startswith("."):
                        continue
                    self.seen.add(name)
                    with open(os.path.join(self.folder, name), encoding="utf-8") as fh:
                        message = json.load(fh)
                    found = LINK_RE.search(message["body"])
                    if found:
                        self.by_address[message["to"]] = found.group(1)
                if address in self.by_address:
                    return self.by_address.pop(address)
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)  # the message is written before the answer; this is a safety net


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    regenerations: int = 0
    rounds_started: int = 0
    double_submits: int = 0
    double_losers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, step: str, response: requests.Response, started: float) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            self.latencies[step].append(time.perf_counter() - started)

    def fail(self, step: str, detail: str) -> None:
        with self.lock:
            self.failures[step] += 1
            self.examples.setdefault(step, detail[:300])


class Stop(Exception):
    """This voter's round cannot go on (already tallied)."""


class SimulatedVoter:
    def __init__(self, voter: Voter, base: str, outbox: Outbox, tally: Tally, run_tag: str, double: bool):
        self.voter, self.base, self.outbox, self.tally, self.tag = voter, base, outbox, tally, run_tag
        self.double = double  # press « RÉGÉNÉRER » twice at once (two tabs, a double click)
        self.http = requests.Session()
        self.logged_in = False

    def call(self, step: str, method: str, path: str, expect: int, **kwargs) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, allow_redirects=False, timeout=HTTP_TIMEOUT,
                                         **kwargs)
        except requests.RequestException as exc:
            self.tally.fail(step, f"{type(exc).__name__}: {exc}")
            raise Stop() from None
        self.tally.answer(step, response, started)
        if response.status_code != expect:
            self.tally.fail(step, f"HTTP {response.status_code} (attendu {expect}) : {response.text[:200]}")
            raise Stop()
        return response

    def form(self, step: str, path: str, data: dict, expect: int) -> requests.Response:
        page = self.call(step + " (GET)", "GET", path, 200)
        token = CSRF_RE.search(page.text)
        if not token:
            self.tally.fail(step, "pas de jeton CSRF dans la page")
            raise Stop()
        return self.call(step, "POST", path, expect, data={**data, "csrf_token": token.group(1)})

    def round(self, n: int) -> bool:
        """One whole réassort; True when the new code opened the voting space."""
        try:
            if not self.logged_in:
                self.form("login", "/connexion", {"email": self.voter.email, "password": PASSWORD}, 302)
                self.logged_in = True
            address = f"soak.{self.tag}.{self.voter.id}.{n}@exemple.org"
            sent = self.form("question-defi", "/reassort/question-defi",
                             {"answer": ANSWER, "identifier": self.voter.numen, "channel": "email",
                              "personal_email": address}, 200)
            if "Lien envoyé" not in sent.text:
                self.tally.fail("question-defi", "pas de « Lien envoyé » : " + sent.text[:200])
                raise Stop()
            link = self.outbox.link_for(address)
            if link is None:
                self.tally.fail("outbox", "aucun lien reçu")
                raise Stop()
            self.call("open-link", "GET", link, 303)
            reveal = self.regenerate_twice() if self.double else self.form("regenerate", "/reassort/regenerer",
                                                                             {}, 200)
            found = CODE_RE.search(reveal.text)
            if not found:
                self.tally.fail("regenerate", "pas de code dans la page")
                raise Stop()
            old, new = self.voter.code, html.unescape(found.group(1))
            self.voter.code = new
            with self.tally.lock:
                self.tally.regenerations += 1
            refused = self.form("vote-old-code", "/vote", {"code": old}, 200)
            if CODE_FAILED not in refused.text:
                self.tally.fail("vote-old-code", "l'ancien code n'a pas été refusé")
                raise Stop()
            self.form("vote-new-code", "/vote", {"code": new}, 302)
            space = self.call("voting-space", "GET", "/espace-de-vote", 200)
            if "CAP académique" not in space.text:
                self.tally.fail("voting-space", "l'espace de vote ne liste pas le scrutin")
                raise Stop()
            return True
        except Stop:
            return False

    def regenerate_twice(self) -> requests.Response:
        """Two POSTs of the same form at once, from two cookie jars holding the same session:
        exactly one may regenerate (200), the other gets the invalid-link page (400)."""
        page = self.call("regenerate (GET)", "GET", "/reassort/regenerer", 200)
        data = {"csrf_token": CSRF_RE.search(page.text).group(1)}
        twin = requests.Session()
        twin.cookies.update(self.http.cookies)
        answers: dict = {}
        barrier = threading.Barrier(2)

        def press(name, http):
            barrier.wait()
            started = time.perf_counter()
            try:
                answers[name] = http.post(self.base + "/reassort/regenerer", data=data, allow_redirects=False,
                                          timeout=HTTP_TIMEOUT)
                self.tally.answer("regenerate (double)", answers[name], started)
            except requests.RequestException as exc:
                self.tally.fail("regenerate (double)", f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=press, args=(n, h)) for n, h in (("a", self.http), ("b", twin))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        twin.close()
        statuses = sorted(r.status_code for r in answers.values())
        with self.tally.lock:
            self.tally.double_submits += 1
            self.tally.double_losers += statuses.count(400)
        if statuses != [200, 400]:
            self.tally.fail("regenerate (double)", f"statuts {statuses}, attendu [200, 400]")
            raise Stop()
        winner = "a" if answers["a"].status_code == 200 else "b"
        if winner == "b":
            self.http.cookies.update(answers["b"].cookies)
        return answers[winner]

    def close(self) -> None:
        self.http.close()


# -- the run --------------------------------------------------------------------------------

def sample_workers(server: Server) -> dict:
    pids = server.workers()
    return {"pids": pids, "rss_kib": [rss_kib(p) for p in pids], "fds": [open_fds(p) for p in pids]}


def run(args) -> dict:
    if not reachable(5432) or not reachable(6379):
        raise SystemExit("PostgreSQL (127.0.0.1:5432) et Redis (127.0.0.1:6379) sont nécessaires.")
    tag = secrets.token_hex(4)
    dbname = f"reassort_soak_{tag}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    workdir = tempfile.mkdtemp(prefix="reassort-soak-")
    outbox_dir = os.path.join(workdir, "outbox")
    os.makedirs(outbox_dir)
    port = free_port()
    prefix = f"reassort-soak-{tag}"
    database_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname
    settings = {
        "ENV": "development", "SECRET_KEY": secrets.token_urlsafe(32), "HASH_PEPPER": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix,
        "CAPTCHA_ENABLED": False, "MAIL_BACKEND": "outbox", "SMS_BACKEND": "outbox", "OUTBOX_DIR": outbox_dir,
        "PUBLIC_URL": f"http://127.0.0.1:{port}", "BCRYPT_ROUNDS": args.bcrypt_rounds, "WORKERS": args.workers,
        # Every simulated voter comes from 127.0.0.1: the per-address limits are raised, the per-voter
        # ones stay at their defaults.
        "RATELIMIT_PER_IP": "100000 per minute", "LINK_OPEN_LIMIT_PER_IP": "100000 per minute",
        # The global send cap's Redis key carries no prefix: a value of its own keeps this run's count apart.
        "EMAIL_SENDS_PER_HOUR": 4999,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("REASSORT_")}
    env.update({f"REASSORT_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in settings.items()})
    env.update(REASSORT_BIND=f"127.0.0.1:{port}", REASSORT_GUNICORN_LOG_LEVEL="warning", PYTHONUNBUFFERED="1")
    server = Server(env, port, workdir)
    tally = Tally()
    report: dict = {"settings": {k: v for k, v in settings.items() if k not in ("SECRET_KEY", "HASH_PEPPER")}}
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{dbname}"'))
    try:
        t0 = time.perf_counter()
        voters = seed(database_url, settings, args.voters)
        report["seed_seconds"] = round(time.perf_counter() - t0, 1)
        server.start()
        report["workers"] = len(server.workers())
        report["rss_cold"] = sample_workers(server)
        outbox = Outbox(outbox_dir)
        deadline = time.monotonic() + args.duration
        samples = []
        stop_sampling = threading.Event()

        def sampler():
            while not stop_sampling.wait(5):
                samples.append({"t": round(time.monotonic() - (deadline - args.duration), 1),
                                **sample_workers(server)})

        def simulate(voter: Voter) -> tuple[int, int]:
            double = args.double_every > 0 and voter.id % args.double_every == 0
            simulated = SimulatedVoter(voter, f"http://127.0.0.1:{port}", outbox, tally, tag, double)
            done = tried = 0
            try:
                for n in range(args.rounds):
                    if time.monotonic() > deadline:
                        break
                    tried += 1
                    with tally.lock:
                        tally.rounds_started += 1
                    if not simulated.round(n):
                        break
                    done += 1
            finally:
                simulated.close()
            return done, tried

        threading.Thread(target=sampler, daemon=True).start()
        started = time.perf_counter()
        # Warm-up: the first few voters, then the RSS reference; then everyone else.
        warm = max(1, min(len(voters) // 10, args.concurrency))
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(simulate, voters[:warm]))
            report["rss_warm"] = sample_workers(server)
            results += list(pool.map(simulate, voters[warm:]))
        elapsed = time.perf_counter() - started
        stop_sampling.set()
        report["rss_end"] = sample_workers(server)
        report["rss_samples"] = samples
        report["elapsed_seconds"] = round(elapsed, 1)
        report["rounds_started"] = tally.rounds_started
        report["rounds_completed"] = sum(d for d, _ in results)
        report["voters_used"] = sum(1 for _, t in results if t)
        report["regenerations_seen"] = tally.regenerations
        report["double_submits"], report["double_losers"] = tally.double_submits, tally.double_losers
        report["statuses"] = dict(sorted(tally.statuses.items()))
        report["requests"] = sum(tally.statuses.values())
        report["failures"] = dict(tally.failures)
        report["failure_examples"] = tally.examples
        report["latency_ms"] = {step: {"n": len(v), "median": round(statistics.median(v) * 1000),
                                       "p95": round(sorted(v)[int(0.95 * (len(v) - 1))] * 1000),
                                       "max": round(max(v) * 1000)}
                                for step, v in sorted(tally.latencies.items())}
        report.update(audit_and_codes(database_url, settings, voters))
        report["gunicorn_errors"] = [line for line in server.stderr().splitlines()
                                     if '"level": "ERROR"' in line or "Traceback" in line][:5]
        report["load_average"] = os.getloadavg()
    finally:
        server.stop()
        cleanup(admin, dbname, prefix, workdir)
    return report


def audit_and_codes(database_url: str, settings: dict, voters: list[Voter]) -> dict:
    """What the database says: audit counts, and whether each voter's code is the last one shown."""
    from reassort.procedures.votegate import PURPOSE
    from reassort.rules.hashing import digest
    from reassort.storage.models import AuditEvent
    from reassort.storage.models import Voter as VoterRow

    engine = create_engine(database_url)
    with engine.connect() as c:
        counts = dict(c.execute(select(AuditEvent.event, func.count()).group_by(AuditEvent.event)).all())
        stored = dict(c.execute(select(VoterRow.id, VoterRow.code_digest)).all())
    engine.dispose()
    mismatched = sum(1 for v in voters if stored.get(v.id) != digest(settings["HASH_PEPPER"], PURPOSE, v.code))
    return {"audit": dict(sorted(counts.items())), "codes_not_as_last_shown": mismatched}


def cleanup(admin, dbname: str, prefix: str, workdir: str) -> None:
    with admin.connect() as c:
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": dbname})
        c.execute(text(f'DROP DATABASE IF EXISTS "{dbname}"'))
    admin.dispose()
    try:
        import redis
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    except Exception as exc:  # noqa: BLE001  (cleanup: say it, do not hide the run's result)
        print(f"nettoyage Redis incomplet : {exc}", file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)


def verdict(report: dict) -> list[str]:
    """The checks that failed (empty when the run is clean)."""
    problems = []
    fivexx = sum(n for status, n in report["statuses"].items() if int(status) >= 500)
    if fivexx:
        problems.append(f"{fivexx} réponse(s) 5xx")
    if report["failures"]:
        problems.append(f"étapes en échec : {report['failures']}")
    regenerated = report["audit"].get("code_regenerated", 0)
    if regenerated != report["regenerations_seen"]:
        problems.append(f"audit code_regenerated = {regenerated} ≠ {report['regenerations_seen']} vues")
    # A double submit's loser is refused either by the compare-and-swap (regeneration_conflict) or,
    # when it came a little later, by the link check (link_invalid); nothing else makes those here.
    refused = report["audit"].get("regeneration_conflict", 0) + report["audit"].get("link_invalid", 0)
    if refused != report["double_losers"]:
        problems.append(f"refus audités {refused} ≠ {report['double_losers']} seconds clics")
    if report["codes_not_as_last_shown"]:
        problems.append(f"{report['codes_not_as_last_shown']} code(s) stocké(s) ≠ dernier code affiché")
    if report["gunicorn_errors"]:
        problems.append("erreurs dans le journal de gunicorn")
    warm, end = sum(filter(None, report["rss_warm"]["rss_kib"])), sum(filter(None, report["rss_end"]["rss_kib"]))
    if warm and end > warm * 1.25:
        problems.append(f"RSS des workers en hausse de {100 * (end - warm) / warm:.0f} %")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=12, help="simulated voters at once")
    parser.add_argument("--duration", type=float, default=60, help="seconds; no new round starts after")
    parser.add_argument("--rounds", type=int, default=3, help="réassorts per voter at most (limits allow 4)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--double-every", type=int, default=5,
                        help="voters whose id is a multiple of this press « RÉGÉNÉRER » twice at once (0: none)")
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    report = run(args)
    problems = verdict(report)
    report["verdict"] = problems or ["ok"]
    text_report = json.dumps(report, indent=1, ensure_ascii=False, default=str)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text_report)
    print(text_report)
    print("\nRÉSULTAT :", "OK" if not problems else "ÉCHEC — " + " ; ".join(problems))
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
