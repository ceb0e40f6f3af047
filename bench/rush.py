"""``scripts/bench --rush``: the opening rush of issue 15, open-loop, against the production stack.

What runs: gunicorn with the production ``gunicorn.conf.py`` as it is (gthread workers,
2 × cores + 1 of them, ``REASSORT_THREADS`` threads each), PostgreSQL and Redis when they answer (SQLite and
memory:// otherwise), bcrypt at cost 12, ``messages work`` sending the notices, a
local SMTP relay taking ``--smtp-latency`` seconds per mail (aiosmtpd) and an SMS
gateway that never answers; nginx in front when there is one (``bench/nginx_front.py``:
the deploy sample's proxy snippet as it ships, so the app reads ``X-Request-Start`` and
sheds by the time nginx received the request; ``--no-nginx`` to go straight to gunicorn).
Same departures from production as §3 of the benchmarks:
CAPTCHA off, per-IP limit raised, global send caps raised, ``ENV=development``.

1. **Capacity** of each flow, closed loop (``bench/openloop.c``, a few requests always in
   flight): the login POST (one bcrypt check) and the vote-code POST; measured again after
   each step, and each step is compared with the mean of the measures before and after it.
2. **Open loop** at 1×, 2× and 5× that capacity for ``--rush-seconds`` seconds each:
   arrivals at fixed intervals whatever the server does (as voters arrive), each
   request given up after ``--patience`` seconds (the voter leaves).  Latency counts
   from the scheduled arrival, so a generator falling behind shows as latency.
   Counted: served (the right answer in time), shed (503 « très sollicité », and how
   fast), other errors, goodput = served per second ÷ capacity, p95 of the served,
   and the recovery: seconds after the load until a probe answers as fast as before.
   Each step runs ``--rush-repeats`` times (3); the table shows the median run.
3. **Slow providers** (repeated the same way): ``/vote`` at 1× capacity alone; then while
   voters ask for réassort links by SMS and by e-mail and regenerate their codes, first with
   the providers answering at once (the baseline: the réassorts' own bcrypt checks take CPU
   too), then with the SMS gateway hanging and the relay slow: ``/vote`` goodput and p95
   against that baseline.  Every link the relay delivered (it delivers whatever data it
   received, its answer late or not) is opened and must work; every regeneration whose
   answer came back showed its code, and no other changed a code.

The table goes to ``docs/benchmarks.md`` between the ``rush`` markers (the rest of the
file is the other benchmarks').  Figures on a shared machine are noisy: the table
says the load at the start and the end.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bench import loadgen, nginx_front, procs
from bench.http_bench import ANSWER, NUMEN, HttpBench, Options

MARK_START = "<!-- rush:start -->"
MARK_END = "<!-- rush:end -->"
BUSY = "très sollicité".encode()
#: The app's total deadline for a mail here (s); the slow relay accepts every other mail 1 s inside it.
SMTP_TIMEOUT = 5.0


@dataclass
class OpenLoop:
    offered: float = 0.0
    seconds: float = 0.0
    sent: int = 0
    served: list = field(default_factory=list)
    shed: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)
    late: int = 0
    #: The share of the machine's cores ``bench/openloop`` itself used while it ran.
    generator_share: float = 0.0


def open_loop(address, requests: list[bytes], check, rate: float, seconds: float, patience: float) -> OpenLoop:
    """Send ``requests`` at ``rate`` per second for ``seconds``; each waits ``patience`` at most.

    The arrivals are ``bench/openloop.c``'s, one connection per request: they never wait for
    answers, and at 1,500 arrivals/s the generator takes its system calls' CPU from the server
    it measures, not a third of a core of Python.  Latency counts from each request's
    scheduled arrival, so a generator falling behind shows as latency.  The answers are
    checked here, once it is done.
    """
    result = OpenLoop(offered=rate, seconds=seconds)
    count = int(rate * seconds)
    if len(requests) < count:  # a step with fewer arrivals than offered would measure nothing true
        raise SystemExit(f"rush : plus assez d'électeurs pour {count} requêtes ({len(requests)}) : "
                         "augmentez --rush-voters")
    _generate(address, requests[:count], check, result, rate, patience)
    return result


def closed_loop(address, requests: list[bytes], check, concurrency: int, seconds: float) -> float:
    """The capacity: right answers per second with ``concurrency`` requests always in flight, by the same generator."""
    result = OpenLoop(seconds=seconds)
    elapsed = _generate(address, requests, check, result, 0.0, 30.0, (concurrency, seconds))
    return len(result.served) / elapsed if elapsed else 0.0


def _generate(address, requests: list[bytes], check, result: OpenLoop, rate: float, patience: float,
              closed: tuple[int, float] | None = None) -> float:
    """Run ``bench/openloop`` on ``requests``, sort its answers into ``result``; the elapsed s (closed loop).

    ``rate`` arrivals per second, or 0 and ``closed`` = (requests in flight, seconds).
    """
    with tempfile.TemporaryDirectory(prefix="reassort-openloop-") as tmp:
        sent, answers = os.path.join(tmp, "requests"), os.path.join(tmp, "answers")
        with open(sent, "wb") as fh:
            fh.writelines(struct.pack("<I", len(r)) + r for r in requests)
        # Its CPU is taken from the server it measures, on the same cores: counted (the only child
        # that ends meanwhile), to be shown beside the figures.
        cpu0, wall0 = _children_cpu(), time.monotonic()
        done = subprocess.run([generator(), address[0], str(address[1]), repr(rate), repr(patience), BUSY.decode(),
                               sent, answers, *map(str, closed or ())], check=True, capture_output=True, text=True,
                              timeout=result.seconds + patience + 60)
        result.generator_share = (_children_cpu() - cpu0) / ((time.monotonic() - wall0) * (os.cpu_count() or 1))
        with open(answers) as fh:
            lines = fh.read().split("\n")
    for line in filter(None, lines):
        _, outcome, latency_us, status, found, location = line.split(" ")
        result.sent += 1
        took = int(latency_us) / 1e6
        if outcome != "0":  # 1: given up; 2: refused or reset
            if outcome == "1":
                result.late += 1
            else:
                result.errors["refused or reset"] = result.errors.get("refused or reset", 0) + 1
            continue
        headers = {} if location == "-" else {"location": location.replace("+", " ")}
        body = BUSY if found == "1" else b""
        if int(status) in (429, 503) and body:  # nginx's bound, or the app's shedding
            result.shed.append(took)
        elif check(int(status), headers, body) and took <= patience:
            result.served.append(took)
        elif took <= patience:
            result.errors[f"HTTP {status}"] = result.errors.get(f"HTTP {status}", 0) + 1
        else:
            result.late += 1
    return float(done.stdout or 0)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def generator() -> str:
    """``bench/openloop.c`` built into ``bench/out`` (again when the source is newer)."""
    source = os.path.join(os.path.dirname(__file__), "openloop.c")
    binary = os.path.join(os.path.dirname(__file__), "out", "openloop")
    if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source):
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise SystemExit("rush : il faut un compilateur C (cc) pour le générateur de charge bench/openloop.c")
        os.makedirs(os.path.dirname(binary), exist_ok=True)
        subprocess.run([compiler, "-O2", "-Wall", "-o", binary, source], check=True)
    return binary


class Rush(HttpBench):
    """The §3 bench's data and prepared requests, served by the production configuration."""

    def __init__(self, args, workdir, logdir, say):
        super().__init__(Options(voters=args.rush_voters, duration=args.rush_seconds, runs=1,
                                 rounds=args.rounds, use_postgres=not args.no_postgres,
                                 use_redis=not args.no_redis), workdir, logdir, say)
        self.args = args
        self.front: nginx_front.Front | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Where the voters' requests go: nginx when it is in front, else gunicorn."""
        assert self.app_server is not None  # noqa: S101  (set up before any measure)
        return self.front.address if self.front is not None else self.app_server.address

    def setup(self) -> None:
        from tests.servers import SMSGateway, SMTPTestServer

        self.smtp = SMTPTestServer()
        self.smtp.handler = _SlowRelay(self.args.smtp_latency, SMTP_TIMEOUT - 1.0)
        self.smtp.controller.handler = self.smtp.handler
        self.smtp.__enter__()
        self.gateway = SMSGateway().__enter__()
        self.gateway.hang.set()
        # Build the §3 settings, then the production-like changes of this scenario.
        original = procs.Gunicorn

        def production(app_spec, env, log_path, workers=2, worker_class="sync"):
            if app_spec != "wsgi:app":
                return original(app_spec, env, log_path, workers, worker_class)
            env = {**env, **{f"REASSORT_{k}": json.dumps(v) for k, v in self._extra().items()}}
            return original(app_spec, env, log_path, os.cpu_count() * 2 + 1, None)

        procs.Gunicorn = production  # type: ignore[misc]
        try:
            super().setup()
        finally:
            procs.Gunicorn = original  # type: ignore[misc]
        self.settings.update(self._extra())
        env = {k: v for k, v in os.environ.items() if not k.startswith("REASSORT_")}
        env.update({f"REASSORT_{k}": json.dumps(v) for k, v in self.settings.items()})
        log = open(os.path.join(self.logdir, "messages-work.log"), "ab")  # noqa: SIM115 (kept for the run)
        self.sender = subprocess.Popen([os.path.join(procs.VENV_BIN, "flask"), "--app", "app", "messages", "work"],
                                       cwd=procs.ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        path = None if self.args.no_nginx else nginx_front.binary()
        if path is not None:
            assert self.app_server is not None  # noqa: S101
            self.front = nginx_front.Front(path, self.workdir, self.app_server.port,
                                           os.path.join(self.logdir, "nginx-error.log")).start()

    def _extra(self) -> dict:
        return {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.smtp.port,
                "SMTP_TIMEOUT": SMTP_TIMEOUT,
                "SMS_BACKEND": "http", "SMS_HTTP_URL": self.gateway.url, "SMS_HTTP_TIMEOUT": 3.0,
                "NOTICES_DRAIN": "worker", "DELIVERY_BREAKER_FAILURES": 1000,
                # Every delivered link is opened at the end, all from 127.0.0.1.
                "LINK_OPEN_LIMIT_PER_IP": "100000 per minute", "WORKERS": os.cpu_count() * 2 + 1}

    def teardown(self) -> None:
        import signal
        if self.front is not None:
            self.front.stop()
        if getattr(self, "sender", None) is not None and self.sender.poll() is None:
            os.killpg(self.sender.pid, signal.SIGTERM)
            try:
                self.sender.wait(20)
            except subprocess.TimeoutExpired:  # its results are the bench's: never lost to a slow stop
                self.say("rush : « messages work » toujours là 20 s après SIGTERM, tué")
                os.killpg(self.sender.pid, signal.SIGKILL)
                self.sender.wait(10)
        super().teardown()
        self.gateway.__exit__()
        self.smtp.__exit__()

    # -- measuring ---------------------------------------------------------------------------------

    def capacity(self, flow: str) -> float:
        # Enough in flight to keep every core busy.  For the logins, one per worker (each has
        # BCRYPT_ADMISSION = 1 place): three or four checks at once fill two cores, and more in a
        # closed loop would measure a storm of shed requests, each sent again at once.
        requests, check = self.requests_for(flow, 8000 if flow == "vote" else 300)
        return closed_loop(self.address, requests, check, 8 if flow == "vote" else os.cpu_count() * 2 + 1,
                           min(10.0, self.args.rush_seconds))

    def probe(self, flow: str) -> float:
        requests, check = self.requests_for(flow, 1)
        t0 = time.perf_counter()
        loadgen.send(self.address, requests[0], timeout=30)
        return time.perf_counter() - t0

    def recovery(self, flow: str, baseline: float) -> float:
        """Seconds after the load until one request answers within twice the idle latency (+ 50 ms)."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 60:
            if self.probe(flow) <= 2 * baseline + 0.05:
                return time.perf_counter() - t0
            time.sleep(0.25)
        return float("inf")

    def rush(self, flow: str, capacity: float, factor: float) -> dict:
        rate = capacity * factor
        requests, check = self.requests_for(flow, int(rate * self.args.rush_seconds) + 10)
        baseline = min(self.probe(flow) for _ in range(3))
        load0 = os.getloadavg()[0]
        result = open_loop(self.address, requests, check, rate, self.args.rush_seconds,
                           self.args.patience)
        row = summarise(flow, factor, capacity, result)
        row["recovery_s"] = self.recovery(flow, baseline)
        row["load"] = (load0, os.getloadavg()[0])
        return row

    def slow_providers(self, capacity: float) -> dict:
        """/vote at 1× alone, beside réassorts with providers answering at once, then with them slow (× repeats).

        The réassorts cost CPU of their own (a bcrypt check per question défi): the baseline
        that isolates the providers' slowness is the same réassorts with providers answering
        at once; « alone » is shown beside it.
        """
        side: dict = {"regen_shown": 0, "regen_sent": 0, "regen_unshown": []}
        triples = []
        for _ in range(self.args.rush_repeats):
            alone = self._vote_at(capacity)
            healthy = self._vote_at(capacity, side, slow=False)
            slow = self._vote_at(capacity, side, slow=True)
            triples.append({"alone": alone, "healthy": healthy, "slow": slow,
                            "share": slow["goodput"] / healthy["goodput"] if healthy["goodput"] else 0.0})
        time.sleep(self.args.smtp_latency + 6)  # the relay's last answers, the sender's last notices
        dead = sum(1 for link in self.smtp.handler.links() if not self._link_works(link))
        chosen = median(triples, "share")
        return {"alone": chosen["alone"], "healthy": chosen["healthy"], "slow": chosen["slow"],
                "triples": [(t["share"], t["slow"]["p95_served_s"], t["healthy"]["p95_served_s"],
                             t["alone"]["goodput"]) for t in triples],
                "links_delivered": len(self.smtp.handler.links()),
                "links_dead": dead, "regenerations_sent": side["regen_sent"],
                "regenerations_shown": side["regen_shown"],
                "regenerations_changed_not_shown": self._changed(side["regen_unshown"])}

    def _vote_at(self, rate: float, side: dict | None = None, slow: bool = False) -> dict:
        """/vote at ``rate`` for a step; beside réassorts (into ``side``) when given, the providers slow or not."""
        requests, check = self.requests_for("vote", int(rate * self.args.rush_seconds) + 10)
        stop = threading.Event()
        if side is not None:
            self.smtp.handler.slow = slow
            (self.gateway.hang.set if slow else self.gateway.hang.clear)()
            threading.Thread(target=self._reassorts, args=(stop, side), daemon=True).start()
        row = summarise("vote", 1, rate, open_loop(self.address, requests, check, rate, self.args.rush_seconds,
                                                   self.args.patience))
        stop.set()
        if side is not None:
            time.sleep(SMTP_TIMEOUT + 1)  # the sends under way end before the next step
        return row

    def _changed(self, voter_ids: list[int]) -> int:
        """Of these voters (their regeneration showed no code), how many had their code changed all the same."""
        from sqlalchemy import func, select

        from reassort.storage.models import Voter
        from reassort.web.extensions import db
        if not voter_ids:
            return 0
        with self.app.app_context():
            with db.new_session() as s:  # the link named generation 1: a regeneration moves it
                return int(s.scalar(select(func.count()).where(Voter.id.in_(voter_ids), Voter.link_generation != 1)))

    def _reassorts(self, stop: threading.Event, side: dict) -> None:
        """Voters asking for links (one SMS, one e-mail, one regeneration each second) while /vote runs."""
        host = f"127.0.0.1:{self.app_server.port}"
        from reassort.procedures import links
        from reassort.rules import tokens

        def one(kind: str, vid: int) -> None:
            if kind == "regen":
                with self.app.app_context():
                    cookie, csrf = self._session({"reissue": links.make(tokens.REISSUE, vid, 1)})
                request = loadgen.raw_request("POST", "/reassort/regenerer", host, cookie, {"csrf_token": csrf})
                side["regen_sent"] += 1
            else:
                cookie, csrf = self._logged_in(vid)
                form = {"answer": ANSWER, "identifier": NUMEN, "channel": kind, "csrf_token": csrf}
                form.update({"phone": "06 12 34 56 78"} if kind == "sms" else
                            {"personal_email": f"rush.{vid}@exemple.org"})
                request = loadgen.raw_request("POST", "/reassort/question-defi", host, cookie, form)
            try:
                answer = loadgen.parse_response(loadgen.send(self.address, request, timeout=30))
                shown = answer.status == 200 and b'id="code-value"' in answer.body
            except OSError:
                shown = False
            if kind == "regen" and shown:
                side["regen_shown"] += 1
            elif kind == "regen":
                side["regen_unshown"].append(vid)

        with ThreadPoolExecutor(max_workers=30) as pool:
            while not stop.is_set():
                for kind in ("sms", "email", "regen"):
                    taken = self._take_voters(1)
                    if taken:
                        pool.submit(one, kind, taken[0][0])
                stop.wait(1.0)

    def _link_works(self, link: str) -> bool:
        """The link leads to the regeneration page (a dead one: to the « lien invalide » page)."""
        path = re.sub(r"^https?://[^/]+", "", link)
        request = loadgen.raw_request("GET", path, f"127.0.0.1:{self.app_server.port}")
        answer = loadgen.parse_response(loadgen.send(self.address, request, timeout=30))
        if answer.status in (429, 503):  # the check itself refused: not a verdict on the link
            raise SystemExit(f"rush : ouverture d'un lien refusée ({answer.status}) : vérification impossible")
        return answer.status == 303 and answer.headers.get("location", "").endswith("/reassort/regenerer")


class _SlowRelay:
    """An SMTP relay answering a mail ``latency`` seconds after its data, every other one ``near`` s; keeps the links.

    Every mail whose data arrived is delivered, as a real relay delivers what it queued even
    when its « 250 » comes after the sender gave up (the app's deadline, ``SMTP_TIMEOUT``,
    struck first: the send is uncertain, and its link must work all the same).  ``near`` is
    just inside that deadline: those links are sent and confirmed late.  So « 0 links
    delivered and dead » is measured on links of both kinds, not true for want of any.
    """

    def __init__(self, latency: float, near: float):
        self.latency, self.near = latency, near
        self.slow = True  # False: every mail answered at once
        self.accepted: list[str] = []
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        self.count += 1
        self.accepted.append(envelope.content.decode("utf-8", "replace"))
        if self.slow:
            await asyncio.sleep(self.near if self.count % 2 == 0 else self.latency)
        return "250 OK"

    def links(self) -> list[str]:
        from email import message_from_string
        from email.policy import default
        found = []
        for raw in self.accepted:
            body = message_from_string(raw, policy=default).get_content()
            found += re.findall(r"https?://\S+/reassort/lien/\S+", body)
        return found


def median(runs: list[dict], key: str) -> dict:
    """The run whose ``key`` is the median (the lower middle one of an even count)."""
    return sorted(runs, key=lambda run: run[key])[(len(runs) - 1) // 2]


def machine_speed() -> float:
    """Milliseconds of one bcrypt hash at cost 12 here, the best of three: how fast this machine is today."""
    import bcrypt
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        bcrypt.hashpw(b"reassort-bench", bcrypt.gensalt(12))
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def summarise(flow: str, factor: float, capacity: float, r: OpenLoop) -> dict:
    served = sorted(r.served)
    goodput = len(served) / r.seconds if r.seconds else 0.0
    return {"flow": flow, "factor": factor, "capacity": capacity, "offered": r.offered, "sent": r.sent,
            "served": len(served), "served_share": len(served) / r.sent if r.sent else 0.0,
            "goodput": goodput, "goodput_share": goodput / capacity if capacity else 0.0,
            "p95_served_s": loadgen.percentile(served, 95), "shed": len(r.shed),
            "p95_shed_s": loadgen.percentile(sorted(r.shed), 95), "late": r.late, "errors": r.errors,
            "generator_share": r.generator_share}


def run(args, tmp: str, logdir: str, say) -> dict:
    bench = Rush(args, tmp, logdir, say)
    results: dict = {"load_start": os.getloadavg(), "seconds": args.rush_seconds, "patience": args.patience,
                     "smtp_latency": args.smtp_latency, "repeats": args.rush_repeats}
    try:
        results["bcrypt_ms"] = machine_speed()
        say(f"rush : préparation ({args.rush_voters:,d} électeurs, gunicorn de production)")
        bench.setup()
        results["gunicorn"] = " ".join(bench.app_server.command[1:-1])
        results["front"] = (f"{bench.front.version} in front (`deploy/nginx-reassort-proxy.conf` as it ships, which "
                            f"sets `X-Request-Start`, and the site's `{bench.front.bound}`)" if bench.front
                            else "no nginx in front (none found)")
        results["database"], results["ratelimit"] = bench.results.get("database"), bench.results.get("ratelimit")
        for flow in ("login", "vote"):
            before = bench.capacity(flow)
            say(f"rush : capacité {flow} {before:.1f}/s")
            results[flow] = {"capacity": before, "rows": []}
            for factor in (1, 2, 5):
                runs = []
                for _ in range(args.rush_repeats):
                    # Offered: factor × the capacity just measured.  Compared with: the mean of
                    # that measure and the next, taken right after (it drifts on a shared machine).
                    row = bench.rush(flow, before, factor)
                    after = bench.capacity(flow)
                    row.update(capacity=(before + after) / 2, capacity_measures=(before, after),
                               goodput_share=row["goodput"] / ((before + after) / 2))
                    runs.append(row)
                    results[flow]["capacity"] = before = after
                    say(f"rush : {flow} {factor}× → servis {row['served_share']:.0%}, débit utile "
                        f"{row['goodput_share']:.0%}, p95 {row['p95_served_s']:.2f} s, délestés {row['shed']}, "
                        f"retour {row['recovery_s']:.1f} s")
                row = median(runs, "goodput_share")
                row["runs"] = [r["goodput_share"] for r in runs]
                results[flow]["rows"].append(row)
        results["slow"] = bench.slow_providers(results["vote"]["capacity"])
        say(f"rush : fournisseurs lents → {json.dumps(results['slow'], default=str)[:400]}")
    finally:
        bench.teardown()
        results["load_end"] = os.getloadavg()
    return results


def render(results: dict, command: str) -> str:
    """The Markdown section between the rush markers."""
    lines = [MARK_START, "## Rush (issue 15)", "",
             f"Written by `{command}`; {results['seconds']:g} s per step, voters give up after "
             f"{results['patience']:g} s, each step run {results.get('repeats', 1)} time(s): the median run "
             "is shown, every run in the last column. Load: `bench/openloop.c`, one connection per request; "
             f"the capacity measured by it in a closed loop ({min(10.0, results['seconds']):g} s) before and "
             "after each run, the run "
             f"compared with their mean. Server: `gunicorn {results.get('gunicorn', '')}`, "
             f"{results.get('front', 'no nginx in front')}; "
             f"{results.get('database')}; limits {results.get('ratelimit')}. Load (1 min) "
             f"{results['load_start'][0]:.2f} at the start, {results['load_end'][0]:.2f} at the end: the machine "
             "is shared, figures are noisy; the lead reruns it quiet. The machine's speed that day: one bcrypt "
             f"hash at cost 12 in {results.get('bcrypt_ms', 0):.0f} ms (the capacities of other runs scale with it).",
             "",
             "| scenario | offered | served | goodput (÷ capacity) | p95 served | shed (p95) | late / errors | "
             "back to normal | load generator's CPU | every run (goodput ÷ capacity) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for flow, name in (("login", "login (1 bcrypt)"), ("vote", "vote code")):
        part = results.get(flow)
        if not part:
            continue
        for row in part["rows"]:
            lines.append(
                f"| {name} at {row['factor']}× (capacity {row['capacity']:.1f}/s: "
                f"{row['capacity_measures'][0]:.1f} before, {row['capacity_measures'][1]:.1f} after) | "
                f"{row['offered']:.1f}/s | "
                f"{row['served_share']:.0%} | {row['goodput']:.1f}/s ({row['goodput_share']:.0%}) | "
                f"{row['p95_served_s']:.2f} s | {row['shed']} ({row['p95_shed_s'] * 1000:.0f} ms) | "
                f"{row['late']} / {sum(row['errors'].values())} | {row['recovery_s']:.1f} s | "
                f"{row.get('generator_share', 0):.0%} of the cores | "
                f"{', '.join(f'{share:.0%}' for share in row.get('runs', [row['goodput_share']]))} |")
    slow = results.get("slow")
    if slow:
        a, h, w = slow["alone"], slow["healthy"], slow["slow"]
        lines += ["", f"Slow providers: `/vote` at 1× while voters ask for réassort links by SMS and e-mail and "
                  "regenerate their codes (one of each a second), first with the providers answering at once "
                  f"(the baseline), then with the relay taking {results['smtp_latency']:g} s per mail (every other "
                  f"one {SMTP_TIMEOUT - 1:g} s: just inside the app's {SMTP_TIMEOUT:g} s deadline) and the SMS "
                  "gateway hanging. The réassorts' bcrypt checks take CPU from `/vote` in both; « alone » is "
                  "`/vote` without them.", "",
                  "| `/vote` at 1× | goodput | p95 served |", "|---|---|---|",
                  f"| alone | {a['goodput']:.1f}/s | {a['p95_served_s']:.2f} s |",
                  f"| beside réassorts, providers answering at once (baseline) | {h['goodput']:.1f}/s | "
                  f"{h['p95_served_s']:.2f} s |",
                  f"| beside réassorts, relay slow and SMS gateway hanging | {w['goodput']:.1f}/s "
                  f"(**{w['goodput'] / h['goodput'] if h['goodput'] else 0:.0%}** of the baseline) | "
                  f"{w['p95_served_s']:.2f} s |",
                  "", f"The median of {len(slow.get('triples', []))} run(s), each alone, baseline, slow; each run's "
                  "goodput slow ÷ baseline, p95 slow / baseline, and the goodput alone: "
                  + "; ".join(f"{share:.0%}, {p95:.2f} / {base:.2f} s, {alone:.1f}/s"
                              for share, p95, base, alone in slow.get("triples", []))
                  + ".",
                  "", f"Réassort links delivered by the relay (every mail whose data it received, the sender "
                  f"waiting for its answer or not): {slow['links_delivered']}, of which dead: {slow['links_dead']}. "
                  f"Regenerations posted: {slow['regenerations_sent']}, code shown in the answer: "
                  f"{slow['regenerations_shown']}; of the others (refused by the in-flight bound or shed: "
                  f"the busy page), code changed all the same: "
                  f"**{slow.get('regenerations_changed_not_shown', '?')}**."]
    mailing = results.get("mailing")
    if mailing:
        lines += ["", "`voters send-activation` (`bench/mailing_runs.py`: a fresh SQLite register, an aiosmtpd relay "
                  "on loopback in a process of its own, every voter checked to receive exactly one mail):", "",
                  "| relay latency per mail | voters | connections | mails/s | target |", "|---|---|---|---|---|"]
        for run in mailing:
            target = 40 if run["latency_s"] else 300
            verdict = "met" if run["mails_per_s"] >= target else "missed"
            lines.append(f"| {run['latency_s'] * 1000:.0f} ms | {run['voters']:,} | {run['connections']} | "
                         f"**{run['mails_per_s']:.0f}** | ≥ {target} ({verdict}) |")
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


def write(path: str, section: str) -> None:
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Benchmarks\n"
    if MARK_START in text and MARK_END in text:
        text = text[:text.index(MARK_START)] + section + text[text.index(MARK_END) + len(MARK_END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)

