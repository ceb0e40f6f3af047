"""``integrity manifest`` and ``integrity check``: is the deployed software the one reviewed?

``manifest`` writes the SHA-256 of every deployed file — code, templates, static
files, pinned requirements, deployment samples — in ``sha256sum``'s format, so that
the expert can also check it with ``sha256sum -c`` and no code of ours; it prints the
manifest's own SHA-256, to be written in the minutes when the service is sealed.
``check`` compares the running tree with a manifest, and the installed packages with
the versions ``requirements.txt`` pins; it names each difference and exits 1.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from reassort.cli.common import fail, number

group = AppGroup("integrity", help="Intégrité du logiciel déployé (scellement avant le scrutin).")

#: What is deployed: the web shell's files and these folders, whole.
ROOT_FILES = ("app.py", "config.py", "wsgi.py", "gunicorn.conf.py", "requirements.txt", "pyproject.toml")
TREES = ("reassort", "views", "forms", "templates", "static", "deploy", "scripts")
#: Made by Python or pip on the machine, never reviewed.
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")
DEFAULT_MANIFEST = os.path.join("instance", "integrity.sha256")
_LINE = re.compile(r"([0-9a-f]{64})  (\S.*)")
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def register(app: Flask) -> None:
    app.cli.add_command(group)


def deployed_files(root: Path) -> Iterator[str]:
    """The relative paths (``/``-separated, sorted) of every deployed file under ``root``."""
    found = [name for name in ROOT_FILES if (root / name).is_file()]
    for tree in TREES:
        for folder, dirs, files in os.walk(root / tree):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
            for name in files:
                if not name.endswith(SKIPPED_SUFFIXES):
                    found.append(Path(folder, name).relative_to(root).as_posix())
    return iter(sorted(found))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_text(root: Path) -> str:
    return "".join(f"{sha256(root / name)}  {name}\n" for name in deployed_files(root))


def read_manifest(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        fail(f"Lecture impossible du manifeste {path} : {exc.strerror or exc}")
    entries = {}
    for n, line in enumerate(lines, start=1):
        match = _LINE.fullmatch(line)
        if not match:
            fail(f"Manifeste {path}, ligne {n} illisible (attendu « <sha256>  <chemin> », comme sha256sum).")
            continue
        entries[match.group(2)] = match.group(1)
    return entries


def pinned(root: Path) -> dict[str, str]:
    """``{package: version}`` pinned by ``requirements.txt``."""
    pins = {}
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def package_differences(root: Path) -> list[str]:
    differences = []
    for name, wanted in sorted(pinned(root).items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            differences.append(f"paquet absent : {name} (requirements.txt fixe {wanted})")
            continue
        if installed != wanted:
            differences.append(f"paquet : {name} {installed} installé, requirements.txt fixe {wanted}")
    return differences


def _root(root: str | None) -> Path:
    return Path(root or current_app.root_path).resolve()


@group.command("manifest")
@click.option("--out", "out_path", default=DEFAULT_MANIFEST, show_default=True, metavar="FICHIER",
              help="Où écrire le manifeste (« - » : la sortie standard).")
@click.option("--root", metavar="DOSSIER", help="Dossier de l'application (par défaut celui qui tourne).")
def manifest(out_path: str, root: str | None) -> None:
    """Écrit l'empreinte SHA-256 de chaque fichier déployé (format de sha256sum)."""
    text = manifest_text(_root(root))
    if out_path == "-":
        click.echo(text, nl=False)
        return
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        with open(out_path, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
    except OSError as exc:
        fail(f"Écriture impossible dans {out_path} : {exc.strerror or exc}")
    click.echo(f"Manifeste écrit dans {os.path.abspath(out_path)} : {number(text.count(chr(10)))} fichier(s).")
    click.echo(f"Empreinte SHA-256 du manifeste (à porter au procès-verbal) : "
               f"{hashlib.sha256(text.encode()).hexdigest()}")


@group.command("check")
@click.option("--manifest", "manifest_path", default=DEFAULT_MANIFEST, show_default=True, metavar="FICHIER",
              help="Le manifeste scellé à comparer.")
@click.option("--root", metavar="DOSSIER", help="Dossier de l'application (par défaut celui qui tourne).")
def check(manifest_path: str, root: str | None) -> None:
    """Compare les fichiers déployés et les paquets installés au manifeste ; code 1 à la moindre différence."""
    base = _root(root)
    expected = read_manifest(manifest_path)
    present = set(deployed_files(base))
    differences = []
    for name in sorted(set(expected) | present):
        if name not in present:
            differences.append(f"absent : {name}")
        elif name not in expected:
            differences.append(f"ajouté : {name}")
        elif sha256(base / name) != expected[name]:
            differences.append(f"modifié : {name}")
    if (base / "requirements.txt").is_file():
        differences += package_differences(base)
    if differences:
        for line in differences:
            click.echo(line, err=True)
        click.echo(f"{number(len(differences))} différence(s) avec le manifeste {manifest_path} : "
                   "le logiciel déployé n'est pas celui qui a été scellé.", err=True)
        raise SystemExit(1)
    click.echo(f"Conforme : {number(len(present))} fichier(s) identiques au manifeste {manifest_path}, "
               "paquets installés aux versions de requirements.txt.")
