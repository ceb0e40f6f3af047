"""Typed settings: the machinery behind ``config.py``'s table (Flask-Security-Too's ``config_value`` idea).

Each setting has a name, a type, a default and a meaning.  Values come from three
layers, later ones winning: the defaults, the environment (``REASSORT_<NAME>``,
parsed as JSON where they can be, then checked against the type), and the mapping
given to ``create_app(config)`` (tests, checked the same way).  An unknown
``REASSORT_*`` name or a value of the wrong type is an error naming it: a typo must
never silently leave a default in force.

No Flask here: ``load`` returns a plain dict that the factory puts in
``app.config``; procedures read it through ``reassort.runtime.setting``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

import click
from limits import parse_many

PREFIX = "REASSORT_"
#: Environment names under these prefixes belong to the test suite and the benchmarks, not the app.
TOOL_PREFIXES = ("REASSORT_TEST_", "REASSORT_BENCH_")


class ConfigurationRefused(click.ClickException):
    """The settings cannot be used: each problem names its setting.

    A ``ClickException`` so that ``flask --app app …`` prints the list and exits 1
    without a traceback; ``wsgi.py`` turns it into a clean exit for gunicorn.
    """

    def __init__(self, problems: list[str], heading: str = "Configuration refusée"):
        self.problems = problems
        super().__init__(heading + " :\n" + "\n".join(f"  - {p}" for p in problems))


class Kind:
    """A setting's type: ``coerce`` turns a given value into the stored one or raises ``ValueError``."""

    #: Text settings take the environment's raw string (``REASSORT_SMTP_USER=123`` is the text "123").
    textual: ClassVar[bool] = False
    _label: ClassVar[str] = "valeur"

    @property
    def label(self) -> str:
        """What a value must look like, in French (for the error messages)."""
        return self._label

    def coerce(self, value):
        raise NotImplementedError

    def from_env(self, raw: str):
        if self.textual:
            try:
                decoded = json.loads(raw)
            except ValueError:
                return self.coerce(raw)
            return self.coerce(decoded if isinstance(decoded, str) else raw)
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = raw
        return self.coerce(decoded)


class Bool(Kind):
    _label: ClassVar[str] = "booléen (true ou false)"

    def coerce(self, value):
        if isinstance(value, bool):
            return value
        raise ValueError(f"{self.label} attendu, reçu {value!r}")


@dataclass(frozen=True)
class Int(Kind):
    low: int | None = None
    high: int | None = None

    @property
    def label(self) -> str:
        bounds = [f"≥ {self.low}" if self.low is not None else "", f"≤ {self.high}" if self.high is not None else ""]
        return "nombre entier" + (" " + " et ".join(b for b in bounds if b) if any(bounds) else "")

    def coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"{self.label} attendu, reçu {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"{self.label} attendu, reçu {value}")
        return value


@dataclass(frozen=True)
class Number(Kind):
    low: float = 0.0
    high: float | None = None
    _label: ClassVar[str] = "nombre"

    def coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"nombre attendu, reçu {value!r}")
        if value < self.low or (self.high is not None and value > self.high):
            raise ValueError(f"nombre entre {self.low} et {self.high} attendu, reçu {value}")
        return float(value)


@dataclass(frozen=True)
class Text(Kind):
    pattern: str | None = None
    hint: str = ""
    textual: ClassVar[bool] = True
    _label: ClassVar[str] = "texte"

    def coerce(self, value):
        if not isinstance(value, str):
            raise ValueError(f"texte attendu, reçu {value!r}")
        if self.pattern and value and not re.fullmatch(self.pattern, value):
            raise ValueError(f"format attendu : {self.hint}, reçu {value!r}")
        return value


class Secret(Text):
    """A text never printed nor logged (``check-config`` says only whether it is set); ``None`` = absent."""

    def coerce(self, value):
        return "" if value is None else super().coerce(value)


@dataclass(frozen=True)
class Choice(Kind):
    choices: tuple[str, ...]
    textual: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return "une valeur parmi " + ", ".join(self.choices)

    def coerce(self, value):
        if value not in self.choices:
            raise ValueError(f"{self.label} attendue, reçu {value!r}")
        return value


class TextList(Kind):
    _label: ClassVar[str] = "liste de textes (JSON, ex. [\"a\", \"b\"])"

    def coerce(self, value):
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ValueError(f"{self.label} attendue, reçu {value!r}")


class SecretList(TextList):
    """A list of secrets (key fallbacks)."""


class RateLimit(Kind):
    """A Flask-Limiter rate string (``30 per minute``, ``10 per 15 minutes``), parsed now.

    A misspelt unit would otherwise switch the limit off without a word.
    """

    textual: ClassVar[bool] = True
    _label: ClassVar[str] = "limite (ex. « 30 per minute », « 10 per 15 minutes »)"

    def coerce(self, value):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{self.label} attendue, reçu {value!r}")
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{self.label} attendue, reçu {value!r}") from None
        return value


class Instant(Kind):
    """An ISO 8601 date and time with its offset (``2026-12-01T09:00:00+01:00``), or empty."""

    textual: ClassVar[bool] = True
    _label: ClassVar[str] = "date ISO avec fuseau (ex. 2026-12-01T09:00:00+01:00) ou vide"

    def coerce(self, value):
        if value in ("", None):
            return None
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{self.label} attendue, reçu {value!r}") from None
        else:
            raise ValueError(f"{self.label} attendue, reçu {value!r}")
        if moment.tzinfo is None:
            raise ValueError(f"date sans fuseau horaire : {value!r} (ex. 2026-12-01T09:00:00+01:00)")
        return moment


@dataclass(frozen=True)
class Url(Kind):
    schemes: tuple[str, ...]
    empty_ok: bool = False
    textual: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return "adresse " + " ou ".join(f"{s}://…" for s in self.schemes)

    def coerce(self, value):
        if not isinstance(value, str):
            raise ValueError(f"{self.label} attendue, reçu {value!r}")
        if not value and self.empty_ok:
            return value
        scheme = urlsplit(value.strip()).scheme.lower()
        base = scheme.split("+", 1)[0]
        if not value or (scheme not in self.schemes and base not in self.schemes):
            raise ValueError(f"{self.label} attendue, reçu {_shown_url(value)!r}")
        # Stored as the libraries expect it: trimmed, the scheme in lower case (" REDIS://…").
        trimmed = value.strip()
        return scheme + trimmed[len(scheme):]


@dataclass(frozen=True)
class FilePath(Kind):
    """The path of an existing file whose name ends with one of ``suffixes``, or empty."""

    suffixes: tuple[str, ...]
    textual: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return "chemin d'un fichier existant (" + ", ".join(self.suffixes) + ") ou vide"

    def coerce(self, value):
        import os

        if value in ("", None):
            return ""
        if not isinstance(value, str):
            raise ValueError(f"{self.label} attendu, reçu {value!r}")
        if not value.lower().endswith(self.suffixes):
            raise ValueError(f"{self.label} attendu, reçu {value!r}")
        if not os.path.isfile(value):
            raise ValueError(f"fichier introuvable : {value!r}")
        return os.path.abspath(value)


class Hook(Kind):
    """A Python object given by ``create_app({...})`` only (the tests' clock); never from the environment."""

    _label: ClassVar[str] = "objet Python (tests)"

    def coerce(self, value):
        if value is not None and not callable(value):
            raise ValueError(f"fonction attendue, reçu {type(value).__name__}")
        return value

    def from_env(self, raw: str):
        raise ValueError("ne se règle pas par l'environnement")


@dataclass(frozen=True)
class Setting:
    name: str
    kind: Kind
    default: object
    doc: str
    #: Read by gunicorn.conf.py, not by the app (still declared here so that the app knows the name).
    server: bool = False

    @property
    def secret(self) -> bool:
        return isinstance(self.kind, (Secret, SecretList))


class Table:
    """The settings in declaration order, by name."""

    def __init__(self, settings: Iterable[Setting]):
        self.by_name = {s.name: s for s in settings}

    def __iter__(self):
        return iter(self.by_name.values())

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def secret_names(self) -> set[str]:
        return {s.name for s in self if s.secret}

    def defaults(self) -> dict:
        return {s.name: s.default for s in self}

    def load(self, overrides: Mapping | None = None, environ: Mapping[str, str] | None = None,
             finalise: Callable[[dict], dict] | None = None) -> dict:
        """Defaults, then the environment, then ``overrides``; every problem listed at once.

        Names in ``overrides`` that are not in the table pass unchecked: they are
        Flask's or an extension's own (``TESTING``, ``WTF_CSRF_ENABLED``…).
        """
        values, problems = self.parse(overrides, environ)
        if problems:
            raise ConfigurationRefused(list(problems.values()), "Réglages invalides")
        return finalise(values) if finalise else values

    def parse(self, overrides: Mapping | None = None,
              environ: Mapping[str, str] | None = None) -> tuple[dict, dict[str, str]]:
        """The values and the problems, without raising: ``check-config`` lists them all in one pass.

        A value that is refused leaves its default in ``values``; ``problems`` maps the
        setting's name (or the unknown variable's) to its message, which starts with
        the variable's name.
        """
        import os

        environ = os.environ if environ is None else environ
        values = self.defaults()
        problems: dict[str, str] = {}
        for key in sorted(environ):
            if not key.startswith(PREFIX) or key.startswith(TOOL_PREFIXES):
                continue
            name = key[len(PREFIX):]
            setting = self.by_name.get(name)
            if setting is None:
                close = _closest(name, self.by_name)
                problems[key] = f"{key} : réglage inconnu" + (f" (vouliez-vous dire {PREFIX}{close} ?)" if close
                                                              else "")
                continue
            try:
                values[name] = setting.kind.from_env(environ[key])
            except ValueError as exc:
                problems[name] = f"{key} : {exc if not setting.secret else _secret_problem(exc)}"
        for name, value in (overrides or {}).items():
            setting = self.by_name.get(name)
            if setting is None:
                values[name] = value
                continue
            try:
                values[name] = setting.kind.coerce(value)
            except ValueError as exc:
                problems[name] = f"{name} : {exc if not setting.secret else _secret_problem(exc)}"
        return values, problems


def _secret_problem(exc: ValueError) -> str:
    # The message may quote the value: say what is expected, never what was given.
    return str(exc).split(", reçu", 1)[0]


def _shown_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url[:40]


def _closest(name: str, names: Iterable[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, list(names), n=1, cutoff=0.8)
    return found[0] if found else None
