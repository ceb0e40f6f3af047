"""The layout is the architecture: each folder may import only what its name allows.

Read from the source (``ast``), so that a forbidden import fails here before it
works by accident anywhere else.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reassort"
SHELL = {"app", "config", "wsgi", "views", "forms"}
#: The only Python files the top level keeps: the web shell's entry points.
ROOT_MODULES = {"app.py", "config.py", "wsgi.py", "gunicorn.conf.py"}
SYS_PATH_EDIT = re.compile(r"sys\.path\.(insert|append|extend)\(|sys\.path\s*[+]?=")


def imports(path: pathlib.Path) -> set[str]:
    """Every module ``path`` imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules_under(folder: str) -> list[pathlib.Path]:
    return sorted((PACKAGE / folder).rglob("*.py")) if folder else sorted(PACKAGE.glob("*.py"))


def offending(paths, forbidden) -> dict[str, list[str]]:
    bad = {}
    for path in paths:
        hits = sorted(m for m in imports(path) if any(m == f or m.startswith(f + ".") for f in forbidden))
        if hits:
            bad[str(path.relative_to(ROOT))] = hits
    return bad


def test_no_python_module_lies_loose_at_the_root():
    assert {p.name for p in ROOT.glob("*.py")} == ROOT_MODULES


def test_the_package_never_imports_the_web_shell():
    assert offending(PACKAGE.rglob("*.py"), SHELL) == {}


def test_pure_rules_import_no_flask_no_database_and_no_other_layer():
    forbidden = {"flask", "werkzeug", "sqlalchemy", "requests", "reassort.procedures", "reassort.storage",
                 "reassort.web", "reassort.adapters", "reassort.cli", "reassort.runtime", "reassort.importer"}
    assert offending(modules_under("rules"), forbidden) == {}


def test_procedures_never_touch_the_request_nor_the_web_glue():
    # Settings, time and the client's hash come through reassort.runtime, never flask.
    forbidden = {"flask", "werkzeug", "reassort.web", "reassort.cli"}
    assert offending(modules_under("procedures") + modules_under("importer"), forbidden) == {}


def test_storage_and_adapters_know_nothing_of_the_procedures_or_the_web():
    forbidden = {"reassort.procedures", "reassort.web", "reassort.cli", "reassort.importer"}
    assert offending(modules_under("storage") + modules_under("adapters"), forbidden) == {}
    assert offending(modules_under("adapters"), {"reassort.storage"}) == {}


def test_views_run_no_sql():
    # Views parse, call a procedure and render: no query building (sqlalchemy.exc is allowed).
    views = sorted((ROOT / "views").glob("*.py"))
    bad = {path: hits for path, hits in offending(views, {"sqlalchemy", "reassort.storage.models"}).items()
           if any(not hit.startswith("sqlalchemy.exc") for hit in hits)}
    assert bad == {}


@pytest.mark.parametrize("folder", ["", "tests", "bench", "reassort", "views", "forms"])
def test_no_sys_path_edit_anywhere(folder):
    for path in sorted((ROOT / folder).rglob("*.py") if folder else ROOT.glob("*.py")):
        if ".venv" in path.parts:
            continue
        assert not SYS_PATH_EDIT.search(path.read_text(encoding="utf-8")), path


def test_every_setting_is_documented():
    """The README's table (and, for gunicorn's, docs/deploy.md's) names every setting of config.py."""
    import config

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    missing = [s.name for s in config.SETTINGS if s.name != "CLOCK"  # the tests' clock, never set by anyone else
               and f"`{s.name}`" not in readme and f"REASSORT_{s.name}" not in deploy]
    assert missing == []
