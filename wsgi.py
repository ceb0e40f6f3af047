"""The WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``.

A refused configuration ends the process with its list of problems (no traceback),
so that gunicorn, which loads the app once in its master, stops at once.
"""

from app import create_app
from reassort.settings import ConfigurationRefused

try:
    app = create_app()
except ConfigurationRefused as refused:
    raise SystemExit(refused.format_message()) from None
