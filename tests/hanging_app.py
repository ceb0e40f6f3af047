"""The app as ``wsgi.py`` builds it, plus routes that hold their thread: a worker timeout on demand.

Served by gunicorn in ``tests/test_gunicorn.py`` only (``tests.hanging_app:app``); never in the app.
"""

import os
import threading

from app import create_app

app = create_app()


@app.get("/test/sans-reponse")
def never_answers():
    threading.Event().wait(600)  # stuck, as a request waiting on a lock would be
    return "trop tard"


@app.get("/test/jusqu-au-signal")
def until_released():
    # Held, as a slow send holds its thread, until the test opens and closes the FIFO named by
    # TEST_RELEASE_FIFO (every request waiting on it is released at once, in every worker).
    with open(os.environ["TEST_RELEASE_FIFO"], "rb") as fifo:
        fifo.read()
    return "libéré"
