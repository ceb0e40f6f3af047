"""Integrity for the expert (issue 16 item 5): ``integrity manifest`` and ``integrity check``.

Run on a copy of the application's tree (``--root``), never on the checkout itself:
the test changes a template, adds and removes files.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from reassort.cli import integrity

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of every deployed file of this checkout."""
    copy = tmp_path / "app"
    for name in integrity.deployed_files(ROOT):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    return copy


def manifest(runner, tree, tmp_path) -> Path:
    out = tmp_path / "integrity.sha256"
    result = runner.invoke(args=["integrity", "manifest", "--root", str(tree), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def check(runner, tree, out):
    return runner.invoke(args=["integrity", "check", "--root", str(tree), "--manifest", str(out)])


def test_manifest_lists_code_templates_static_and_pinned_requirements(runner, tree, tmp_path):
    out = manifest(runner, tree, tmp_path)
    names = {line.split("  ", 1)[1] for line in out.read_text(encoding="utf-8").splitlines()}
    assert {"app.py", "config.py", "wsgi.py", "gunicorn.conf.py", "requirements.txt", "templates/base.html",
            "templates/messages/reissue_link.txt", "static/css/reassort.css", "reassort/procedures/recovery.py",
            "reassort/storage/migrations/versions/0001_initial.py", "views/reassort.py", "forms/reassort.py",
            "reassort/data/public-mail-domains.txt", "deploy/nginx-reassort.conf"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", ".venv"))]


def test_manifest_prints_its_own_fingerprint_for_the_minutes(runner, tree, tmp_path):
    out = tmp_path / "m.sha256"
    result = runner.invoke(args=["integrity", "manifest", "--root", str(tree), "--out", str(out)])
    assert hashlib.sha256(out.read_bytes()).hexdigest() in result.stdout


def test_manifest_is_checked_by_sha256sum_too(runner, tree, tmp_path):
    out = manifest(runner, tree, tmp_path)
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum absent")
    done = subprocess.run(["sha256sum", "--check", "--quiet", "--strict", str(out)], cwd=tree,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_of_an_untouched_tree_passes(runner, tree, tmp_path):
    result = check(runner, tree, manifest(runner, tree, tmp_path))
    assert result.exit_code == 0, result.output
    assert "Conforme" in result.stdout


def test_manifest_detects_one_changed_template(runner, tree, tmp_path):
    out = manifest(runner, tree, tmp_path)
    template = tree / "templates" / "reassort" / "reveal.html"
    template.write_text(template.read_text(encoding="utf-8") + "<!-- modifié -->\n", encoding="utf-8")
    result = check(runner, tree, out)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "modifié : templates/reassort/reveal.html"
    assert "1 différence(s)" in result.stderr


def test_check_names_each_added_removed_and_changed_file(runner, tree, tmp_path):
    out = manifest(runner, tree, tmp_path)
    (tree / "views" / "porte_derobee.py").write_text("# ajouté après le scellement\n", encoding="utf-8")
    (tree / "static" / "js" / "reveal.js").unlink()
    (tree / "config.py").write_text("# changé\n", encoding="utf-8")
    (tree / "reassort" / "__pycache__").mkdir(exist_ok=True)
    (tree / "reassort" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"compiled on the machine")
    result = check(runner, tree, out)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == ["modifié : config.py", "absent : static/js/reveal.js",
                                              "ajouté : views/porte_derobee.py"]
    assert "3 différence(s)" in result.stderr


def test_check_names_a_package_installed_at_another_version(runner, tree, tmp_path):
    requirements = tree / "requirements.txt"
    requirements.write_text(requirements.read_text(encoding="utf-8").replace("Flask==", "Flask==0.0.1+"),
                            encoding="utf-8")
    out = manifest(runner, tree, tmp_path)
    result = check(runner, tree, out)
    assert result.exit_code == 1
    assert "paquet : Flask" in result.stderr and "requirements.txt fixe 0.0.1+" in result.stderr


def test_check_refuses_an_unreadable_manifest(runner, tree, tmp_path):
    bad = tmp_path / "bad.sha256"
    bad.write_text("pas un manifeste\n", encoding="utf-8")
    result = check(runner, tree, bad)
    assert result.exit_code == 1 and "ligne 1 illisible" in result.stderr
    missing = check(runner, tree, tmp_path / "absent.sha256")
    assert missing.exit_code == 1 and "Lecture impossible du manifeste" in missing.stderr
