"""One measured run of ``flask --app app codes issue --out FILE``, in a process of its own, as JSON.

The database is one ``bench/import_runs.py`` filled.  Before the timed part the
voters' codes are cleared (so every voter needs one, as before the first
issue); the command is then run through Flask's CLI runner — the same click
command, without the interpreter's start-up — and timed, with the process's
peak RSS during it.  The notices file is measured, then deleted.

    python -m bench.codes_runs --url sqlite:///X.db --out-dir DIR --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench.import_runs import _reset_peak, _status_kib

PEPPER = "bench-pepper-0123456789abcdef0123456789"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--json", required=True)
    args = parser.parse_args(argv)

    from sqlalchemy import func, select, update

    from app import create_app
    from reassort.storage.models import Voter
    from reassort.web.extensions import db

    app = create_app({"DATABASE_URL": args.url, "HASH_PEPPER": PEPPER, "ENV": "development",
                      "MAIL_BACKEND": "console", "SMS_BACKEND": "console"})
    notices = os.path.join(args.out_dir, f"notices-{os.getpid()}.csv")
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(update(Voter).values(code_digest=None, code_issued_at=None))
        runner = app.test_cli_runner()
        base = _status_kib("VmRSS")
        _reset_peak()
        start = time.perf_counter()
        outcome = runner.invoke(args=["codes", "issue", "--out", notices])
        seconds = time.perf_counter() - start
        peak = _status_kib("VmHWM")
        if outcome.exit_code != 0:
            print(outcome.output, file=sys.stderr)
            raise SystemExit(f"codes issue a échoué (statut {outcome.exit_code})")
        with db.engine.connect() as conn:
            issued = conn.execute(select(func.count()).where(Voter.code_digest.is_not(None))).scalar()
        db.engine.dispose()
    size = os.path.getsize(notices)
    with open(notices, encoding="utf-8-sig") as fh:
        lines = sum(1 for _ in fh) - 1
    os.unlink(notices)
    with open(args.json, "w") as fh:
        json.dump({"codes": issued, "lines": lines, "seconds": seconds, "file_bytes": size,
                   "rss_before_kib": base, "peak_kib": peak}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
