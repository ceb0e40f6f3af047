"""Timing check (SEC-02): can the answer time tell a known address from an unknown
one, or which of answer and NUMEN was wrong?

    .venv/bin/python bench/timing.py [--samples 150] [--bcrypt-rounds 10] [--json FILE]

A benchmark, not a test: timings on a shared machine are noisy, so the result is
read, reported in docs/reliability.md, and rerun when the code paths change.

Method.  The app runs in this process (Flask test client: no network jitter),
on a SQLite file, CAPTCHA off and limits raised so that every request takes the
path under study.  For each comparison, the requests of all classes are
interleaved in a random order (drift and background load fall on every class
alike), after a warm-up; the garbage collector runs between samples only.  Each
class is then compared with the first one by

- the difference of the medians, with a 95 % bootstrap confidence interval;
- the Mann–Whitney U test (two-sided, normal approximation with tie correction):
  does one class tend to be slower?

Verdict "indistinguishable" when the confidence interval of the difference lies
within ± ``--tolerance`` (default 2 %) of the reference median, or the
Mann–Whitney p-value is at least 0.01.

Two positive controls show the method's power on the same machine: the unknown
address with the dummy bcrypt check removed (``hashing.bcrypt_check`` returning
at once, the mistake SEC-02 guards against), and a known address with 1 ms of
extra work added — the smallest difference this run can see.

The bcrypt cost defaults to 10 (production: 12) to keep the run near a minute: the
paths differ, if at all, outside bcrypt, so a cheaper bcrypt makes any difference
*more* visible, not less.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import random
import statistics
import tempfile
import time
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PASSWORD = "timing: une phrase de passe assez longue"
ANSWER = "Éléonore"
NUMEN = "12E1234567ABC"
OTHER_NUMEN = "99Z9999999ZZZ"
PERSONAL = "jeanne.perso@exemple.org"


# -- statistics --------------------------------------------------------------------------

def mann_whitney(a: list[float], b: list[float]) -> tuple[float, float]:
    """U statistic of ``a`` and the two-sided p-value (normal approximation, tie-corrected)."""
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    n1, n2 = len(a), len(b)
    r1 = sum(r for r, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (u1 - n1 * n2 / 2) / sigma if sigma else 0.0
    return u1, math.erfc(abs(z) / math.sqrt(2))


def bootstrap_median_diff(a: list[float], b: list[float], rng: random.Random, rounds: int = 2000):
    """95 % percentile bootstrap interval of median(b) − median(a)."""
    diffs = sorted(statistics.median(rng.choices(b, k=len(b))) - statistics.median(rng.choices(a, k=len(a)))
                   for _ in range(rounds))
    return diffs[int(0.025 * rounds)], diffs[int(0.975 * rounds) - 1]


EQUIVALENT, DIFFERENT, INCONCLUSIVE = "équivalents", "différents", "non concluant"


def compare(classes: dict[str, list[float]], tolerance: float, rng: random.Random) -> dict:
    """Each class against the first, on one metric; figures in milliseconds.

    ``équivalents``: the 95 % interval of the difference of medians lies within ±
    tolerance; ``différents``: it does not, and Mann–Whitney says p < 0.01;
    ``non concluant``: neither (too much noise for this number of samples).
    """
    names = list(classes)
    reference = classes[names[0]]
    ref_median = statistics.median(reference)
    bound = tolerance * ref_median
    rows = []
    for other in names[1:]:
        sample = classes[other]
        low, high = bootstrap_median_diff(reference, sample, rng)
        _, p = mann_whitney(reference, sample)
        verdict = EQUIVALENT if -bound <= low and high <= bound else DIFFERENT if p < 0.01 else INCONCLUSIVE
        rows.append({"versus": other, "median_diff_ms": round((statistics.median(sample) - ref_median) * 1e3, 3),
                     "ci95_ms": [round(low * 1e3, 3), round(high * 1e3, 3)], "mann_whitney_p": round(p, 4),
                     "verdict": verdict})
    return {"medians_ms": {k: round(statistics.median(v) * 1e3, 3) for k, v in classes.items()},
            "iqr_ms": {k: round((statistics.quantiles(v, n=4)[2] - statistics.quantiles(v, n=4)[0]) * 1e3, 3)
                       for k, v in classes.items()},
            "tolerance_ms": round(bound * 1e3, 3), "results": rows}


def compare_both(name: str, timings: dict[str, list[tuple[float, float]]], tolerance: float,
                 rng: random.Random) -> dict:
    """Wall-clock time (what a client sees) and the request thread's CPU time (the work done,
    free of the other processes' scheduling noise on a shared machine)."""
    return {"comparison": name, "samples_per_class": len(next(iter(timings.values()))),
            "wall": compare({k: [w for w, _ in v] for k, v in timings.items()}, tolerance, rng),
            "cpu": compare({k: [c for _, c in v] for k, v in timings.items()}, tolerance, rng)}


# -- the app and the paths -------------------------------------------------------------------

def build_app(workdir: str, bcrypt_rounds: int):
    from app import create_app
    from reassort.procedures import votegate
    from reassort.rules.hashing import bcrypt_hash, normalise_answer
    from reassort.rules.identifiers import numen_digest
    from reassort.storage import migrations
    from reassort.storage.models import Scrutin, Voter
    from reassort.web.extensions import db

    app = create_app({
        "ENV": "development", "SECRET_KEY": "timing-secret-key-0123456789abcdef0123",
        "HASH_PEPPER": "timing-pepper-0123456789abcdef0123456789", "DATABASE_URL": f"sqlite:///{workdir}/t.db",
        "MAIL_BACKEND": "outbox", "SMS_BACKEND": "outbox", "OUTBOX_DIR": f"{workdir}/outbox",
        "CAPTCHA_ENABLED": False, "BCRYPT_ROUNDS": bcrypt_rounds, "LOG_LEVEL": "WARNING",
        "RATELIMIT_PER_IP": "1000000 per minute", "LOGIN_LIMIT_PER_ACCOUNT": "1000000 per minute",
        "CHALLENGE_LIMIT_PER_VOTER": "1000000 per minute", "CHALLENGE_MAX_FAILURES": 10 ** 9,
        "ACCOUNT_LINKS_PER_ADDRESS": "1000000 per minute",
        "PUBLIC_URL": "https://vote.example.fr",
    })
    with app.app_context():
        migrations.upgrade(db.engine)
        pepper = app.config["HASH_PEPPER"]
        with db.new_session() as s:
            for i in (1, 2, 3):  # agent3 has not activated their account yet
                activated = i != 3
                s.add(Voter(identifiant=f"T{i}", nom="DUBOIS", prenoms="Angela", date_naissance=dt.date(1962, 8, 24),
                            lieu_naissance=None, email=f"agent{i}@education.gouv.fr",
                    numen_digest=numen_digest(pepper, NUMEN), nir_digest=None,
                    password_hash=bcrypt_hash(PASSWORD, bcrypt_rounds, pepper) if activated else None,
                    question_id="q1" if activated else None,
                    answer_hash=bcrypt_hash(normalise_answer(ANSWER), bcrypt_rounds, pepper) if activated else None,
                    code_digest=votegate.code_digest("Ab3#Cd4$Ef5%"), activation_generation=1,
                    link_generation=0, link_window_start=0, links_in_window=0, challenge_failures=0,
                    challenge_locked_until=0, session_epoch=0, scrutins=[Scrutin(name="CAP")]))
            s.commit()
    return app


def csrf(client, path: str) -> str:
    import re
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def measure(requests_by_class: dict, samples: int, warmup: int,
            rng: random.Random) -> dict[str, list[tuple[float, float]]]:
    """Run each class's request ``samples`` times, interleaved at random: (wall, CPU) seconds each."""
    for send in requests_by_class.values():
        for _ in range(warmup):
            send()
    schedule = [name for name in requests_by_class for _ in range(samples)]
    rng.shuffle(schedule)
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in requests_by_class}
    gc.disable()
    try:
        for n, name in enumerate(schedule):
            send = requests_by_class[name]
            wall, cpu = time.perf_counter(), time.thread_time()
            send()
            timings[name].append((time.perf_counter() - wall, time.thread_time() - cpu))
            if n % 25 == 0:
                gc.collect()  # between samples, never inside one
    finally:
        gc.enable()
    return timings


def login_paths(app, control: str | None = None) -> dict:
    """Known address (wrong password) vs unknown address; ``control`` adds a deliberate leak."""
    client = app.test_client()
    token = csrf(client, "/connexion")

    def post(email):
        def send():
            response = client.post("/connexion", data={"email": email, "password": "mauvais mot de passe",
                                                       "csrf_token": token})
            assert response.status_code == 200, response.status_code
        return send

    paths = {"adresse connue": post("agent1@education.gouv.fr"),
             "adresse inconnue": post("personne@education.gouv.fr")}
    if control == "extra-1ms":
        known = paths["adresse connue"]

        def slower():
            known()
            end = time.perf_counter() + 0.001
            while time.perf_counter() < end:  # busy: a sleep would yield and blur the millisecond
                pass
        paths["adresse connue + 1 ms (témoin)"] = slower
        del paths["adresse inconnue"]
    return paths


def challenge_paths(app) -> dict:
    client = app.test_client()
    login = csrf(client, "/connexion")
    assert client.post("/connexion", data={"email": "agent2@education.gouv.fr", "password": PASSWORD,
                                           "csrf_token": login}).status_code == 302
    token = csrf(client, "/reassort/question-defi")

    def post(answer, identifier):
        def send():
            response = client.post("/reassort/question-defi", data={
                "answer": answer, "identifier": identifier, "channel": "email", "personal_email": PERSONAL,
                "csrf_token": token})
            assert response.status_code == 200 and "Lien envoyé" not in response.get_data(as_text=True)
        return send

    return {"réponse fausse": post("Camille", NUMEN), "NUMEN faux": post(ANSWER, OTHER_NUMEN),
            "les deux faux": post("Camille", OTHER_NUMEN)}


def forgotten_password_paths(app) -> dict:
    """« Mot de passe oublié ? » (SEC-49): the answer's time for an activated account, one not yet
    activated and nobody's.  The response is not closed, so the mail decided for a known address
    (sent after the answer, ``reassort.web.after_response``) never leaves: the time measured is
    the one a client waits for its answer."""
    client = app.test_client()
    token = csrf(client, "/mot-de-passe-oublie")

    def post(email):
        def send():
            response = client.post("/mot-de-passe-oublie", data={"email": email, "csrf_token": token})
            assert response.status_code == 303, response.status_code
        return send

    return {"compte activé": post("agent1@education.gouv.fr"),
            "compte pas encore activé": post("agent3@education.gouv.fr"),
            "adresse inconnue": post("personne@education.gouv.fr")}


@contextmanager
def without_dummy_check():
    """The mistake SEC-02 guards against: return at once when there is no hash to check."""
    from reassort.procedures import accounts
    real = accounts.bcrypt_check

    def early_exit(secret, hashed, rounds, pepper):
        return False if not hashed else real(secret, hashed, rounds, pepper)

    accounts.bcrypt_check = early_exit
    try:
        yield
    finally:
        accounts.bcrypt_check = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=150, help="per class")
    parser.add_argument("--warmup", type=int, default=10, help="per class, not measured")
    parser.add_argument("--bcrypt-rounds", type=int, default=10)
    parser.add_argument("--tolerance", type=float, default=0.02, help="share of the reference median")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="reassort-timing-") as workdir:
        app = build_app(workdir, args.bcrypt_rounds)
        started = time.perf_counter()
        report = {"bcrypt_rounds": args.bcrypt_rounds, "samples_per_class": args.samples,
                  "load_average_before": os.getloadavg(), "comparisons": []}
        studied = [("connexion", lambda: login_paths(app)), ("question défi", lambda: challenge_paths(app)),
                   ("mot de passe oublié", lambda: forgotten_password_paths(app))]
        for name, paths in studied:
            timings = measure(paths(), args.samples, args.warmup, rng)
            report["comparisons"].append(compare_both(name, timings, args.tolerance, rng))
        # Positive controls: the first must be seen even with few samples; the second tells
        # the smallest difference this run could see.
        with without_dummy_check():
            timings = measure(login_paths(app), max(30, args.samples // 4), args.warmup, rng)
        report["comparisons"].append(compare_both("témoin : sans vérification factice", timings, args.tolerance,
                                                  rng))
        timings = measure(login_paths(app, control="extra-1ms"), args.samples, args.warmup, rng)
        report["comparisons"].append(compare_both("témoin : 1 ms de plus", timings, args.tolerance, rng))
        report["seconds"] = round(time.perf_counter() - started, 1)
        report["load_average_after"] = os.getloadavg()
        app.extensions["reassort_db"][0].dispose()
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1, ensure_ascii=False)
    print()
    for c in report["comparisons"]:
        for metric in ("cpu", "wall"):
            for r in c[metric]["results"]:
                print(f"{c['comparison']:38} {metric:4} {r['versus']:32} Δ {r['median_diff_ms']:+8.3f} ms "
                      f"IC95 [{r['ci95_ms'][0]:+.3f}, {r['ci95_ms'][1]:+.3f}] p={r['mann_whitney_p']:.3f} "
                      f"→ {r['verdict']}")
    studied = [r["verdict"] for c in report["comparisons"][:3] for r in c["cpu"]["results"] + c["wall"]["results"]]
    control = [r["verdict"] for r in report["comparisons"][3]["cpu"]["results"]]
    ok = DIFFERENT not in studied and control == [DIFFERENT]
    print("\nRÉSULTAT :", "aucune différence entre les chemins" if DIFFERENT not in studied else
          "DIFFÉRENCE MESURÉE", "; témoin sans vérification factice",
          "détecté" if control == [DIFFERENT] else "NON détecté (mesure trop bruitée)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
