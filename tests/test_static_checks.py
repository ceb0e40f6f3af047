"""Static checks inside the test run, so that CI runs them: ruff, bandit and mypy.

``scripts/lint`` runs the same three, plus ``pip-audit`` on requirements.txt when its
advisory data can be reached (it cannot always be: docs/reliability.md).  Their
configuration, and the reason for each rule left out, is in ``pyproject.toml``.
Missing tools skip (fail under ``REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import require_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool(name: str) -> str:
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        path = shutil.which(name) or ""
    if not path:
        require_or_skip(f"{name} absent : pip install -r requirements-dev.txt")
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)  # noqa: S603


def test_ruff_finds_nothing():
    result = run(tool("ruff"), "check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_bandit_finds_no_medium_or_high_issue():
    result = run(tool("bandit"), "-q", "-c", "pyproject.toml", "-r", ".", "--severity-level", "medium",
                 "-f", "txt")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_no_error_in_the_package():
    result = run(tool("mypy"))  # the package, as pyproject.toml's [tool.mypy] says
    assert result.returncode == 0, result.stdout + result.stderr
