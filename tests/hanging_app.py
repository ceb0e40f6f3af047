"""The app as ``wsgi.py`` builds it, plus one route that never answers: a worker timeout on demand.

Served by gunicorn in ``tests/test_gunicorn.py`` only (``tests.hanging_app:app``); never in the app.
"""

import threading

from app import create_app

app = create_app()


@app.get("/test/sans-reponse")
def never_answers():
    threading.Event().wait(600)  # stuck, as a request waiting on a lock would be
    return "trop tard"
