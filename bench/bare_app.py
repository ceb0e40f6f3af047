"""The reference of the HTTP figures: a bare Flask route, served like the app.

``gunicorn -c gunicorn.conf.py bench.bare_app:app`` runs it with exactly the
settings of the real service (workers, worker class, logging), so the ratio
"endpoint / bare route" measures what Réassort's own work costs, whatever the
machine.  It lives here, never in the production app.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/bench-bare")
def bench_bare():
    return "ok"
