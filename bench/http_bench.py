"""HTTP figures: Réassort under gunicorn (2 sync workers, loopback), against a bare route.

What is set up, and why:

- a fresh PostgreSQL database (created here, dropped at the end; a SQLite file
  when PostgreSQL is unreachable), migrated, filled through the real importer
  with generated voters, then given known secrets: one password and one answer
  (bcrypt at ``BCRYPT_ROUNDS``, 12 by default), one NUMEN, one vote code, and a
  current link generation;
- rate limits on Redis (``memory://`` when Redis is unreachable) under a key
  prefix of this run, deleted at the end;
- the production-like configuration, except: ``CAPTCHA_ENABLED=false`` (a load
  generator cannot read an image), the ``outbox`` mail backend (no SMTP server),
  a raised per-IP limit (every request comes from 127.0.0.1) and raised global
  send caps (thousands of links in minutes).  Per-voter limits keep their
  defaults: each prepared voter is used within them (10 vote POSTs, one link,
  one regeneration, one login);
- what a browser would have got first — a session cookie, its CSRF token, the
  link's token in the session — is made here with the app's own signing
  (``tokens.make``, the session serializer, ``generate_csrf``), so that each
  measured request is exactly the one named, and each réassort link is fresh.

Each round measures, one after the other: the bare route, home, ``POST /vote``,
the regeneration POST, the bcrypt bound, the login POST and the question défi
POST.  Rounds are repeated; ratios are taken within a round (same machine
load), and the report gives medians.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from dataclasses import dataclass
from typing import Callable

from bench import bcrypt_bound, import_bench, loadgen, procs

PASSWORD = "une phrase de passe assez longue"
ANSWER = "Éléonore"
NUMEN = "12E1234567ABC"
CODE = "Ab3#Cd4$Ef5%"
HOME_VOTERS = 20
CONCURRENCY = 4  # two connections per sync worker: the next request always waits in the backlog
# In each round the bare route comes right before POST /vote, and the bcrypt bound is
# measured before and after each bcrypt-bound endpoint: each ratio compares neighbours in time.
ENDPOINTS = ("bare", "vote", "home", "captcha", "regen", "login", "defi")
BCRYPT_BOUND_ENDPOINTS = ("login", "defi")


@dataclass
class Options:
    voters: int
    duration: float
    runs: int
    rounds: int = 12
    max_requests: int = 50_000
    use_postgres: bool = True
    use_redis: bool = True


class HttpBench:
    """Set up, measure, tear down; ``results`` holds every run's figures."""

    def __init__(self, options: Options, workdir: str, logdir: str, say: Callable[[str], None]):
        self.o, self.workdir, self.logdir, self.say = options, workdir, logdir, say
        self.database_url = ""
        self.limiter_uri = "memory://"
        self.key_prefix = "reassort-bench-" + secrets.token_hex(5)
        self.app_server: procs.Gunicorn | None = None
        self.bare_server: procs.Gunicorn | None = None
        self.results: dict = {"runs": {name: [] for name in ENDPOINTS + ("bcrypt",)}, "memory": [],
                              "warmup": {}}
        self._next_voter = HOME_VOTERS  # the first ones are home's, never regenerated nor logged out

    # --- setting up --------------------------------------------------------------------------

    def setup(self) -> None:
        pg_problem = procs.postgres_reachable() if self.o.use_postgres else "désactivé (--no-postgres)"
        if pg_problem is None:
            self.database_url = procs.create_database("reassort_bench_http")
            self.results["database"] = "PostgreSQL " + procs.postgres_version()
        else:
            self.database_url = f"sqlite:///{self.workdir}/http.db"
            self.results["database"] = f"SQLite (PostgreSQL : {pg_problem})"
        redis_problem = procs.redis_reachable() if self.o.use_redis else "désactivé (--no-redis)"
        if redis_problem is None:
            self.limiter_uri = procs.REDIS_URL
            self.results["ratelimit"] = f"Redis {procs.redis_version()} ({procs.REDIS_URL})"
        else:
            self.results["ratelimit"] = f"memory:// (Redis : {redis_problem})"
        self.settings = {
            "ENV": "development",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "HASH_PEPPER": secrets.token_urlsafe(48),
            "DATABASE_URL": self.database_url,
            "RATELIMIT_STORAGE_URI": self.limiter_uri,
            "RATELIMIT_KEY_PREFIX": self.key_prefix,
            # Raised for the bench: one address sends everything, thousands of links are sent.
            "RATELIMIT_PER_IP": "10000000 per minute",
            "CAPTCHA_RENDERS_PER_IP": "10000000 per minute",
            "EMAIL_SENDS_PER_HOUR": 100_000_000,
            "SMS_SENDS_PER_HOUR": 100_000_000,
            "CAPTCHA_ENABLED": False,
            "MAIL_BACKEND": "outbox",
            "SMS_BACKEND": "outbox",
            "OUTBOX_DIR": os.path.join(self.workdir, "outbox"),
            "PUBLIC_URL": "https://vote.bench.invalid",
            # Configured as in production (its client is loaded by the workers); never called here.
            "FRANCECONNECT_ISSUER": "https://franceconnect.bench.invalid/api/v2",
            "FRANCECONNECT_CLIENT_ID": "bench-client",
            "FRANCECONNECT_CLIENT_SECRET": secrets.token_urlsafe(32),
            "BCRYPT_ROUNDS": self.o.rounds,
            "WORKERS": 2,
            "LOG_LEVEL": "INFO",
        }
        self.results["settings"] = {k: v for k, v in self.settings.items()
                                    if k not in ("SECRET_KEY", "HASH_PEPPER", "FRANCECONNECT_CLIENT_SECRET")}
        from app import create_app
        self.app = create_app(dict(self.settings))
        self._fill_database()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REASSORT_")}
        env.update({f"REASSORT_{k}": json.dumps(v) for k, v in self.settings.items()})
        self.app_server = procs.Gunicorn("wsgi:app", env, os.path.join(self.logdir, "gunicorn-app.log")).start()
        self.bare_server = procs.Gunicorn("bench.bare_app:app", env,
                                          os.path.join(self.logdir, "gunicorn-bare.log")).start()
        self.results["gunicorn"] = " ".join(self.app_server.command[1:-1])

    def _fill_database(self) -> None:
        from sqlalchemy import select, text, update

        from reassort import importer
        from reassort.procedures import votegate
        from reassort.rules.hashing import bcrypt_hash, normalise_answer
        from reassort.rules.identifiers import numen_digest
        from reassort.storage import migrations
        from reassort.storage.models import Voter
        from reassort.web.extensions import db

        csv_path = os.path.join(self.workdir, "http-voters.csv")
        import_bench.generate_csv(csv_path, self.o.voters, seed=7)
        with self.app.app_context():
            migrations.upgrade(db.engine)
            session = db.new_session()
            report = importer.import_voters(session, csv_path, self.settings["HASH_PEPPER"])
            session.close()
            if not report.ok:
                raise RuntimeError(f"import des électeurs du banc impossible : {report.errors[:3]}")
            pepper = self.settings["HASH_PEPPER"]
            with db.engine.begin() as conn:
                conn.execute(update(Voter).values(
                    password_hash=bcrypt_hash(PASSWORD, self.o.rounds, pepper), question_id="q1",
                    answer_hash=bcrypt_hash(normalise_answer(ANSWER), self.o.rounds, pepper),
                    numen_digest=numen_digest(pepper, NUMEN), code_digest=votegate.code_digest(CODE),
                    link_generation=1))
                if conn.dialect.name == "postgresql":
                    conn.execute(text("ANALYZE"))
                rows = conn.execute(select(Voter.id, Voter.email).order_by(Voter.id)).all()
            db.engine.dispose()
        self.voters = [(row.id, row.email) for row in rows]
        os.unlink(csv_path)

    def teardown(self) -> None:
        for server in (self.app_server, self.bare_server):
            if server is not None:
                server.stop()
        if self.database_url.startswith("postgresql"):
            if hasattr(self, "app"):
                with self.app.app_context():
                    from reassort.web.extensions import db
                    db.engine.dispose()
            procs.drop_database(self.database_url)
        if self.limiter_uri.startswith("redis"):
            procs.redis_delete_prefix(self.key_prefix)

    # --- what a browser would hold ------------------------------------------------------------

    def _take_voters(self, n: int) -> list[tuple[int, str]]:
        taken = self.voters[self._next_voter:self._next_voter + n]
        self._next_voter += len(taken)
        return taken

    def _session(self, data: dict) -> tuple[str, str]:
        """A signed session cookie holding ``data`` and a CSRF token, and that token."""
        from flask import g, session
        from flask_wtf.csrf import generate_csrf

        app = self.app
        with app.test_request_context("/"):
            # generate_csrf caches its token on g, which outlives this request when an
            # app context is already pushed (tokens.make needs one).
            g.pop("csrf_token", None)
            session.update(data)
            token = generate_csrf()
            value = app.session_interface.get_signing_serializer(app).dumps(dict(session))
        return f"{app.config['SESSION_COOKIE_NAME']}={value}", token

    def _logged_in(self, voter_id: int, **extra) -> tuple[str, str]:
        from reassort import runtime
        return self._session({"vid": voter_id, "ep": 0, "seen": runtime.now_int(), "since": runtime.now_int(), **extra})

    def requests_for(self, endpoint: str, count: int) -> tuple[list[bytes], loadgen.Check]:
        """``count`` prepared requests of ``endpoint`` (fewer when the voters run out) and their check."""
        host = f"127.0.0.1:{self.app_server.port}"
        raw = loadgen.raw_request
        if endpoint == "bare":
            host = f"127.0.0.1:{self.bare_server.port}"
            return [raw("GET", "/bench-bare", host)] * count, lambda s, h, b: s == 200 and b == b"ok"
        if endpoint == "home":
            cookies = [self._logged_in(vid)[0] for vid, _ in self.voters[:HOME_VOTERS]]
            return ([raw("GET", "/", host, cookies[i % len(cookies)]) for i in range(count)],
                    lambda s, h, b: s == 200 and b"Consulter les scrutins" in b)
        if endpoint == "captcha":
            # The image endpoint works whether CAPTCHA_ENABLED is on or off.  A fresh challenge per
            # request: each is its first fetch, which draws and keeps the image (what a login costs);
            # later fetches of one challenge serve the kept bytes.
            from reassort.procedures import captchas
            ids = [captchas.new_id(2**31 - 1) for _ in range(count)]
            pairs = [(self._session({"captcha": cid})[0], cid) for cid in ids]
            return ([raw("GET", f"/captcha/image/{cid}.png", host, cookie) for cookie, cid in pairs],
                    lambda s, h, b: s == 200 and h.get("content-type") == "image/png" and b[:4] == b"\x89PNG")
        if endpoint == "vote":
            # VOTE_CODE_LIMIT_PER_VOTER keeps its default (10 per 15 minutes): 10 POSTs per voter.
            reqs = []
            for vid, _ in self._take_voters(math.ceil(count / 10)):
                cookie, csrf = self._logged_in(vid)
                reqs += [raw("POST", "/vote", host, cookie, {"code": CODE, "csrf_token": csrf})] * 10
            return (reqs[:count],
                    lambda s, h, b: s == 302 and h.get("location", "").endswith("/espace-de-vote"))
        if endpoint == "regen":
            from reassort.procedures import links
            from reassort.rules import tokens
            reqs = []
            with self.app.app_context():
                for vid, _ in self._take_voters(count):
                    cookie, csrf = self._session({"reissue": links.make(tokens.REISSUE, vid, 1)})
                    reqs.append(raw("POST", "/reassort/regenerer", host, cookie, {"csrf_token": csrf}))
            return reqs, lambda s, h, b: s == 200 and b'id="code-value"' in b
        if endpoint == "login":
            reqs = []
            for _, email in self._take_voters(count):
                cookie, csrf = self._session({})
                reqs.append(raw("POST", "/connexion", host, cookie,
                                {"email": email, "password": PASSWORD, "csrf_token": csrf}))
            return reqs, lambda s, h, b: s == 302 and h.get("location") in ("/", f"http://{host}/")
        if endpoint == "defi":
            reqs = []
            for vid, _ in self._take_voters(count):
                cookie, csrf = self._logged_in(vid)
                reqs.append(raw("POST", "/reassort/question-defi", host, cookie, {
                    "answer": ANSWER, "identifier": NUMEN, "channel": "email",
                    "personal_email": f"bench.{vid}@exemple.org", "csrf_token": csrf}))
            # A link sent redirects to « Lien envoyé » (post/redirect/get: a reload sends nothing again).
            return reqs, lambda s, h, b: s == 303 and h.get("location") in ("/reassort/lien-envoye",
                                                                            f"http://{host}/reassort/lien-envoye")
        raise ValueError(endpoint)

    # --- measuring ----------------------------------------------------------------------------

    def _server_cpu(self) -> tuple[float, float]:
        workers = sum(procs.cpu_seconds(pid) for pid in self.app_server.worker_pids())
        database = 0.0
        if self.database_url.startswith("postgresql"):
            database = sum(procs.cpu_seconds(pid) for pid in procs.backend_pids(self.database_url))
        return workers, database

    def _load(self, endpoint: str, duration: float, cap: int) -> dict:
        requests, check = self.requests_for(endpoint, cap)
        server = self.bare_server if endpoint == "bare" else self.app_server
        pids = server.worker_pids()
        cpu0 = sum(procs.cpu_seconds(p) for p in pids)
        db0 = self._server_cpu()[1] if endpoint != "bare" else 0.0
        result = loadgen.run(server.address, requests, check, concurrency=CONCURRENCY,
                             duration=duration, max_requests=cap)
        cpu = sum(procs.cpu_seconds(p) for p in pids) - cpu0
        database = (self._server_cpu()[1] - db0) if endpoint != "bare" else 0.0
        ok = max(result.ok, 1)
        return {
            "rate": result.rate, "completed": result.completed, "failed": result.failed,
            "elapsed": result.elapsed, "prepared": len(requests),
            "p50_ms": loadgen.percentile(result.latencies, 50) * 1000,
            "p99_ms": loadgen.percentile(result.latencies, 99) * 1000,
            "client_cpu_share": result.client_cpu / (result.elapsed * (os.cpu_count() or 1)),
            "server_cpu_ms": cpu / ok * 1000, "db_cpu_ms": database / ok * 1000,
            "statuses": {str(k): v for k, v in result.statuses.items()},
            "first_failure": result.first_failure[:500],
        }

    def _cap(self, endpoint: str) -> int:
        """Prepared requests of one run: what the warm-up rate says it needs, with room, bounded."""
        warm = self.results["warmup"].get(endpoint, {}).get("rate", 0)
        need = int(warm * self.o.duration * 3) + 50 if warm else self.o.max_requests
        return max(20, min(self.o.max_requests, need))

    def warm_up(self) -> None:
        for endpoint in ENDPOINTS:
            few = endpoint in BCRYPT_BOUND_ENDPOINTS
            result = self._load(endpoint, duration=min(3.0, self.o.duration), cap=6 if few else 300)
            self.results["warmup"][endpoint] = result
            self.say(f"  échauffement {endpoint:6s}: {result['rate']:8.1f} req/s "
                     f"({result['completed']} requêtes, {result['failed']} en échec)")

    def _bound(self, number: int) -> dict:
        rate, cpu = bcrypt_bound.measure(self.o.rounds, 2, min(self.o.duration, 10.0))
        self.say(f"  tour {number} borne bcrypt : {rate:8.2f} vérifications/s, {cpu * 1000:.0f} ms CPU chacune")
        return {"rate": rate, "cpu_ms": cpu * 1000}

    def measure_round(self, number: int) -> None:
        bound = None
        for endpoint in ENDPOINTS:
            if endpoint in BCRYPT_BOUND_ENDPOINTS:
                if bound is None:  # before the login; the défi's "before" is the login's "after"
                    bound = self._bound(number)
                    self.results["runs"]["bcrypt"].append(bound)
                before = bound
            result = self._load(endpoint, self.o.duration, self._cap(endpoint))
            if endpoint in BCRYPT_BOUND_ENDPOINTS:
                bound = self._bound(number)
                self.results["runs"]["bcrypt"].append(bound)
                # The bound beside this run: the mean of the measures just before and just after.
                result["bound_rate"] = (before["rate"] + bound["rate"]) / 2
                result["bound_cpu_ms"] = (before["cpu_ms"] + bound["cpu_ms"]) / 2
            self.results["runs"][endpoint].append(result)
            self.say(f"  tour {number} {endpoint:6s}: {result['rate']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms"
                     f"  p99 {result['p99_ms']:7.1f} ms  ({result['completed']} requêtes, "
                     f"{result['failed']} en échec, CPU serveur {result['server_cpu_ms']:.2f} ms/req)")
            if result["failed"]:
                self.say(f"    premier échec : {result['first_failure'][:300]}")
        self.results["memory"].append({
            "workers": {str(pid): procs.memory_kib(pid) for pid in self.app_server.worker_pids()},
            "master": procs.memory_kib(self.app_server.process.pid),
            "bare_workers": {str(pid): procs.memory_kib(pid) for pid in self.bare_server.worker_pids()},
        })

    def run(self) -> dict:
        self.say(f"HTTP : base {self.results.get('database', '?')}, limites {self.results.get('ratelimit', '?')}")
        self.results["load_before"] = os.getloadavg()
        self.warm_up()
        for number in range(1, self.o.runs + 1):
            self.measure_round(number)
        self.results["load_after"] = os.getloadavg()
        self.results["voters_in_database"] = len(self.voters)
        self.results["voters_used"] = self._next_voter
        self.results["concurrency"] = CONCURRENCY
        self.results["duration"] = self.o.duration
        return self.results
