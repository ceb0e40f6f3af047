"""The user-facing messages of the views, read from ``templates/_texts.html`` (one place each)."""

from flask import get_template_attribute
from markupsafe import Markup


def text(name: str, **context) -> Markup:
    """The message ``name`` (a macro of ``_texts.html``), rendered with ``context``."""
    return get_template_attribute("_texts.html", name)(**context).strip()
