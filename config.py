"""Every setting of Réassort: its type, its default and its meaning, in one table.

Set from the environment as ``REASSORT_<NAME>`` (JSON where it parses: ``true``,
``5``, ``["a"]``; text as it is) or given to ``create_app({...})`` (tests).  An
unknown ``REASSORT_*`` name or a value of the wrong type stops the app with a
message naming it (``reassort.settings``).  ``unsafe_settings`` lists what
production refuses on top of that.  Code reads a setting with
``reassort.runtime.setting("NAME")``.
"""

from __future__ import annotations

import secrets

from reassort.rules import deployment
from reassort.rules.mail import sender_domain
from reassort.settings import (
    Bool,
    Choice,
    ConfigurationRefused,
    FilePath,
    Hook,
    Instant,
    Int,
    Number,
    RateLimit,
    Secret,
    SecretList,
    Setting,
    Table,
    Text,
    Url,
)

DEV_PEPPER = "dev-pepper-not-for-production"
DAY = 86400

S = Setting
SETTINGS = Table([
    S("ENV", Choice(("development", "production")), "development",
      "development | production (production refuses unsafe settings)"),
    # -- keys --------------------------------------------------------------
    S("SECRET_KEY", Secret(), "", "signing key of sessions, links and CAPTCHAs; random per run in development"),
    S("SECRET_KEY_FALLBACKS", SecretList(), [], "older signing keys, still accepted during a rotation"),
    S("HASH_PEPPER", Secret(), "", "key of the keyed digests (vote code, NUMEN, NIR prefix), kept outside the "
                                   "database; a development value in development only"),
    # -- storage and limits ------------------------------------------------
    S("DATABASE_URL", Url(("sqlite", "postgresql")), "sqlite:///instance/reassort.db", "SQLAlchemy URL"),
    S("RATELIMIT_STORAGE_URI", Url(("memory", "redis", "rediss", "redis+sentinel")), "memory://",
      "Flask-Limiter storage (redis://… in production)"),
    S("RATELIMIT_ENABLED", Bool(), True, "rate limits on (production refuses false)"),
    S("RATELIMIT_KEY_PREFIX", Text(), "", "prefix of every rate-limit key (deployments sharing one Redis)"),
    S("RATELIMIT_MEMORY_FALLBACK", Bool(), True,
      "Redis down: count the limits in each worker's memory (logged) rather than refuse every form"),
    S("RATELIMIT_PER_IP", RateLimit(), "30 per minute",
      "each form's POSTs per address: generous, whole schools share one address"),
    S("LOGIN_LIMIT_PER_ACCOUNT", RateLimit(), "10 per 15 minutes", "login attempts per typed address"),
    S("VOTE_CODE_LIMIT_PER_VOTER", RateLimit(), "10 per 15 minutes", "vote-code attempts per voter"),
    S("CHALLENGE_LIMIT_PER_VOTER", RateLimit(), "10 per hour",
      "question défi POSTs per voter (on top of the failure counter)"),
    S("LINK_OPEN_LIMIT_PER_IP", RateLimit(), "30 per minute", "openings of réassort links per address"),
    S("ACCOUNT_LINKS_PER_ADDRESS", RateLimit(), "3 per hour",
      "forgotten-password and activation requests per typed address (counted once the CAPTCHA is solved)"),
    S("ACCOUNT_LIMIT_PER_VOTER", RateLimit(), "10 per hour",
      "« Mon compte » changes per voter (each checks the current password)"),
    # -- links sent ---------------------------------------------------------
    S("PUBLIC_URL", Url(("http", "https")), "http://127.0.0.1:5000",
      "base URL of every link sent; never the Host header"),
    S("MAIL_BACKEND", Choice(("console", "outbox", "smtp")), "console", "e-mail delivery"),
    S("MAIL_FROM", Text(), "Élections professionnelles <ne-pas-repondre@elections.example>", "sender of e-mails"),
    S("SMTP_HOST", Text(), "localhost", "SMTP server"),
    S("SMTP_PORT", Int(1, 65535), 25, "SMTP port"),
    S("SMTP_USER", Text(), "", "SMTP login (empty: no authentication)"),
    S("SMTP_PASSWORD", Secret(), "", "SMTP password"),
    S("SMTP_TLS", Choice(("none", "starttls", "ssl")), "none", "SMTP encryption"),
    S("SMTP_TIMEOUT", Number(0.1, 120), 10.0,
      "total deadline of one e-mail (s): connect + the whole conversation, well under WORKER_TIMEOUT"),
    S("SMS_BACKEND", Choice(("console", "outbox", "http")), "console", "SMS delivery"),
    S("SMS_HTTP_URL", Url(("http", "https"), empty_ok=True), "", "generic JSON SMS gateway"),
    S("SMS_HTTP_AUTH", Secret(), "", "full Authorization header value sent to the gateway (e.g. « Bearer … »)"),
    S("SMS_HTTP_CHECK_URL", Url(("http", "https"), empty_ok=True), "",
      "gateway URL answering a GET without sending (balance, status): check-config --connect calls it"),
    S("SMS_SENDER", Text(), "ELECTIONS", "SMS sender name"),
    S("SMS_HTTP_TIMEOUT", Number(0.1, 120), 5.0,
      "total deadline of one SMS (s), its one retry on a 5xx included: connect + request + answer"),
    S("DELIVERY_IN_FLIGHT", Int(1, 64), 2,
      "sends in flight per channel in one worker process; one more is refused at once (the voter is "
      "offered another way)"),
    S("DELIVERY_BREAKER_FAILURES", Int(1, 1000), 5,
      "failed sends on a channel, within DELIVERY_BREAKER_WINDOW, after which its provider is skipped"),
    S("DELIVERY_BREAKER_WINDOW", Int(1, 3600), 60, "window in which failed sends are counted (s)"),
    S("DELIVERY_BREAKER_SECONDS", Int(1, 3600), 60,
      "how long a failing provider is skipped (s), for every worker (shared through Redis)"),
    S("NOTICES_DRAIN", Choice(("auto", "after_response", "worker")), "auto",
      "who sends the queued notices (« code modifié »): the web process after the response, or "
      "« messages work »; auto = after_response in development, worker in production"),
    S("OUTBOX_DIR", Text(), "instance/outbox", "where outbox/console write one JSON file per message"),
    S("SMS_SENDS_PER_HOUR", Int(0), 2000, "global cap on réassort SMS per hour (cost, flooding)"),
    S("EMAIL_SENDS_PER_HOUR", Int(0), 5000, "global cap on réassort e-mails per hour"),
    # -- the rush -------------------------------------------------------------
    S("SHED_AFTER_SECONDS", Number(0, 60), 2.0,
      "a request that waited longer than this before reaching the app (nginx's X-Request-Start, else "
      "gunicorn's accept) is answered at once « service très sollicité » (503); 0 = never"),
    S("SHED_RETRY_AFTER", Int(1, 3600), 10, "Retry-After (s) of that page"),
    S("BCRYPT_ADMISSION", Int(1, 64), 1,
      "bcrypt-bound POSTs (login, question défi, activation) running at once in one worker process"),
    S("SUSPENSION_CHECK_SECONDS", Number(0, 60), 2.0,
      "how often each worker re-reads « service suspend|resume » (s)"),
    # -- the voter's journey -------------------------------------------------
    S("CAPTCHA_ENABLED", Bool(), True, "CAPTCHA on login and code forms (production refuses false)"),
    S("CAPTCHA_MAX_AGE", Int(30, 3600), 300, "CAPTCHA answer life (s)"),
    S("CAPTCHA_RENDERS_PER_IP", RateLimit(), "60 per minute",
      "CAPTCHA images and sounds drawn per address (each challenge is drawn once, then served as kept)"),
    S("ACTIVATION_LINK_MAX_AGE", Int(3600, 60 * DAY), 7 * DAY, "activation link life (s)"),
    S("REISSUE_LINK_MAX_AGE", Int(60, DAY), 600, "réassort link life (s)"),
    S("PASSWORD_RESET_MAX_AGE", Int(60, DAY), 3600, "forgotten-password link life (s)"),
    S("CODE_DISPLAY_SECONDS", Int(1, 3600), 120, "display time of a new vote code (s)"),
    S("CHALLENGE_MAX_FAILURES", Int(1), 5, "wrong answers before the question défi is suspended"),
    S("CHALLENGE_LOCK_SECONDS", Int(60, DAY), 3600, "first suspension (s); each further one doubles, up to 24 h"),
    S("LINKS_PER_HOUR", Int(1), 5, "links a voter may request per hour"),
    S("SESSION_IDLE_SECONDS", Int(60, DAY), 1800, "idle time after which a portal session ends (s)"),
    S("SESSION_MAX_SECONDS", Int(300, 7 * DAY), 43200, "absolute life of a portal session after login (s)"),
    S("BCRYPT_ROUNDS", Int(4, 16), 12, "bcrypt cost of passwords and answers (production: 12 at least)"),
    # -- the election ----------------------------------------------------------
    S("ELECTION_OPENS_AT", Instant(), None, "opening, ISO with offset (2026-12-01T09:00:00+01:00); empty = open"),
    S("ELECTION_CLOSES_AT", Instant(), None, "closing, ISO with offset; empty = never closes"),
    S("ELECTION_TITLE", Text(), "Élections professionnelles (démonstration)", "the election's name"),
    S("ELECTION_ORGANISER", Text(), "Organisateur de démonstration", "who runs the election"),
    S("HELP_CONTACT", Text(), "assistance-elections@example.org", "where voters get help (phone, address or URL)"),
    S("LOGO_PATH", FilePath((".png", ".svg", ".jpg", ".jpeg", ".webp")), "",
      "the deployment's own logo (PNG, SVG, JPEG or WebP file), shown beside the organiser's name; "
      "empty = no logo (neutral look)"),
    S("ACCESSIBILITY_STATUS", Choice(("non conforme", "partiellement conforme", "totalement conforme")),
      "partiellement conforme", "RGAA conformity stated in the footer and the accessibility statement"),
    # -- FranceConnect ---------------------------------------------------------
    S("FRANCECONNECT_ISSUER", Url(("http", "https"), empty_ok=True), "",
      "provider (https://<host>/api/v2); empty hides the button unless the stand-in runs"),
    S("FRANCECONNECT_CLIENT_ID", Text(), "", "client id"),
    S("FRANCECONNECT_CLIENT_SECRET", Secret(), "", "client secret"),
    S("FRANCECONNECT_SCOPES", Text(), "openid given_name family_name birthdate birthplace birthcountry gender email",
      "scopes asked (space-separated; aliases such as identite_pivot allowed)"),
    S("FRANCECONNECT_LEEWAY", Int(0, 300), 30, "clock leeway on ID tokens (s); the provider's live 60 s"),
    S("FRANCECONNECT_TIMEOUT", Number(0.1, 60), 10.0, "timeout of each call to the provider (s)"),
    S("FRANCECONNECT_STANDIN", Bool(), False, "mount the local FranceConnect stand-in (development only)"),
    # -- deployment -------------------------------------------------------------
    S("PROXY_COUNT", Int(0, 5), 0, "proxies in front of the app for the client address (nginx: 1)"),
    S("LOG_LEVEL", Choice(("DEBUG", "INFO", "WARNING", "ERROR")), "INFO", "log level"),
    # -- operations ---------------------------------------------------------------
    S("METRICS_TOKEN", Secret(), "", "bearer token Prometheus presents at /metrics (32 characters at least); "
                                     "empty = no metrics endpoint"),
    S("CLOCK", Hook(), None, "the clock (epoch seconds), injected by tests only"),
    # Read by gunicorn.conf.py (declared here so that the app knows the names).
    S("BIND", Text(), "127.0.0.1:8000", "gunicorn: address to listen on", server=True),
    S("WORKERS", Int(1, 256), None, "gunicorn: worker processes (default 2 × cores + 1)", server=True),
    S("WORKER_CLASS", Choice(("gthread", "sync")), "gthread",
      "gunicorn: threaded workers (I/O waits hold one thread) or sync (one request per process)", server=True),
    S("THREADS", Int(1, 64), 5, "gunicorn: threads per worker (gthread: waiting on I/O holds one thread only)",
      server=True),
    S("WORKER_TIMEOUT", Int(5, 600), 30, "gunicorn: seconds before a silent worker is killed", server=True),
    S("FORWARDED_ALLOW_IPS", Text(), "127.0.0.1", "gunicorn: proxies whose X-Forwarded-Proto is believed",
      server=True),
    S("ACCESS_LOG", Text(), "", "gunicorn: « - » or a file for its own access log (off by default)", server=True),
    S("GUNICORN_LOG_LEVEL", Choice(("debug", "info", "warning", "error")), "info", "gunicorn: log level",
      server=True),
    S("METRICS_DIR", Text(), "", "gunicorn: folder of the workers' metric files, emptied at start; empty = a "
                                 "private temporary folder", server=True),
])

#: Names whose value is a secret: never printed by ``check-config`` nor logged.
SECRET_NAMES = SETTINGS.secret_names()


def load(overrides=None, environ=None) -> dict:
    """The effective settings: defaults, then environment, then ``overrides``; refused when invalid."""
    settings = SETTINGS.load(overrides, environ, finalise)
    problems = inconsistent_settings(settings)
    if problems:
        raise ConfigurationRefused(problems, "Réglages incohérents")
    return settings


def finalise(settings: dict) -> dict:
    """Fill the development-only defaults (random key, development pepper)."""
    if settings["ENV"] != "production":
        if not settings.get("SECRET_KEY"):
            settings["SECRET_KEY"] = secrets.token_urlsafe(32)
        if not settings.get("HASH_PEPPER"):
            settings["HASH_PEPPER"] = DEV_PEPPER
    return settings


def inconsistent_settings(settings: dict) -> list[str]:
    """Settings each valid alone that contradict one another: refused in every environment."""
    problems = []
    opens, closes = settings.get("ELECTION_OPENS_AT"), settings.get("ELECTION_CLOSES_AT")
    if opens is not None and closes is not None and closes <= opens:
        problems.append(f"ELECTION_CLOSES_AT : la clôture ({closes.isoformat()}) doit suivre l'ouverture "
                        f"({opens.isoformat()})")
    return problems


#: The placeholder of ``deploy/reassort.env.example``: every one must be replaced.
PLACEHOLDER = "CHANGE_ME"


def unsafe_settings(settings: dict) -> list[str]:
    """List every setting production refuses, each with its reason (French).

    A setting still holding the example's ``CHANGE_ME`` is said so, once, rather
    than also « too short » or « missing ».
    """
    placeholders = [f"{name} : contient encore « {PLACEHOLDER} » (valeur d'exemple à remplacer)"
                    for name, value in settings.items() if name in SETTINGS and PLACEHOLDER in str(value)]
    left = {p.split(" ", 1)[0] for p in placeholders}
    return placeholders + [p for p in _refusals(settings) if p.split(" ", 1)[0] not in left]


def _refusals(settings: dict) -> list[str]:
    problems = []
    key = settings.get("SECRET_KEY") or ""
    if deployment.weak_key(key):
        problems.append(f"SECRET_KEY : {deployment.weak_key(key)}")
    pepper = settings.get("HASH_PEPPER") or ""
    if not pepper or pepper == DEV_PEPPER or len(str(pepper)) < 32:
        problems.append("HASH_PEPPER : absent, trop court ou valeur de développement")
    elif deployment.weak_key(pepper):
        problems.append(f"HASH_PEPPER : {deployment.weak_key(pepper)}")
    if key and str(key) == str(pepper):
        problems.append("SECRET_KEY / HASH_PEPPER : identiques ; deux clés tirées séparément sont requises")
    if [k for k in settings.get("SECRET_KEY_FALLBACKS") or [] if deployment.weak_key(k) or str(k) == str(pepper)]:
        problems.append("SECRET_KEY_FALLBACKS : une clé ancienne serait refusée comme SECRET_KEY ; retirez-la")
    if not settings.get("CAPTCHA_ENABLED"):
        problems.append("CAPTCHA_ENABLED : le CAPTCHA ne peut pas être désactivé")
    if not settings.get("RATELIMIT_ENABLED"):
        problems.append("RATELIMIT_ENABLED : les limites de débit ne peuvent pas être désactivées")
    if settings.get("MAIL_BACKEND") != "smtp":
        problems.append("MAIL_BACKEND : seul « smtp » est permis en production")
    if settings.get("SMS_BACKEND") != "http":
        problems.append("SMS_BACKEND : seul « http » est permis en production")
    if settings.get("FRANCECONNECT_STANDIN"):
        problems.append("FRANCECONNECT_STANDIN : le fournisseur FranceConnect de démonstration est interdit")
    issuer = str(settings.get("FRANCECONNECT_ISSUER") or "")
    if issuer and not issuer.startswith("https://"):
        problems.append("FRANCECONNECT_ISSUER : doit être en https://")
    if issuer and not (settings.get("FRANCECONNECT_CLIENT_ID") and settings.get("FRANCECONNECT_CLIENT_SECRET")):
        problems.append("FRANCECONNECT_CLIENT_ID / FRANCECONNECT_CLIENT_SECRET : requis dès que "
                        "FRANCECONNECT_ISSUER est renseigné")
    if not deployment.is_redis(settings.get("RATELIMIT_STORAGE_URI")):
        problems.append("RATELIMIT_STORAGE_URI : seul Redis (redis://, rediss://) tient entre plusieurs "
                        "processus et au redémarrage")
    if settings.get("SMS_BACKEND") == "http" and not deployment.is_https(settings.get("SMS_HTTP_URL")):
        problems.append("SMS_HTTP_URL : absente ou pas en https:// (les liens envoyés passeraient en clair)")
    if (settings.get("MAIL_BACKEND") == "smtp" and settings.get("SMTP_TLS") == "none"
            and not deployment.is_loopback(settings.get("SMTP_HOST"))):
        problems.append("SMTP_TLS : « none » vers un serveur qui n'est pas local (starttls ou ssl requis)")
    if deployment.scheme(settings.get("DATABASE_URL")).startswith("sqlite"):
        problems.append("DATABASE_URL : SQLite est réservé au développement ; utiliser postgresql://")
    if not str(settings.get("PUBLIC_URL", "")).startswith("https://"):
        problems.append("PUBLIC_URL : doit être en https:// (cookies Secure, liens envoyés)")
    if int(settings.get("BCRYPT_ROUNDS") or 0) < 12:
        problems.append("BCRYPT_ROUNDS : 12 au moins en production")
    # gunicorn never terminates TLS here and PUBLIC_URL must be https://: a proxy is always in
    # front.  Without PROXY_COUNT every voter would share its address: one per-address limit for
    # everybody, and the same IP hash on every audit line.
    if not settings.get("PROXY_COUNT"):
        problems.append("PROXY_COUNT : 0 alors qu'un proxy TLS (nginx) est toujours devant gunicorn en "
                        "production ; indiquer le nombre de proxys (1 avec le nginx fourni)")
    # The Message-ID of every mail is made under the sender's domain (adapters/messaging/smtp.py).
    if not sender_domain(str(settings.get("MAIL_FROM") or "")):
        problems.append("MAIL_FROM : adresse d'expéditeur sans domaine (ex. « Élections <ne-pas-repondre@"
                        "vote.example.fr> »)")
    worker_timeout = settings.get("WORKER_TIMEOUT") or 30
    for name in ("SMTP_TIMEOUT", "SMS_HTTP_TIMEOUT"):
        if float(settings.get(name) or 0) > worker_timeout / 2:
            problems.append(f"{name} : {settings[name]} s, plus de la moitié de WORKER_TIMEOUT ({worker_timeout} s) ; "
                            "un fournisseur lent ferait attendre les électeurs au-delà de nginx")
    metrics_token = str(settings.get("METRICS_TOKEN") or "")
    if metrics_token and len(metrics_token) < 32:
        problems.append("METRICS_TOKEN : trop court (32 caractères au moins), ou vide pour couper /metrics")
    return problems



def server_settings(environ=None) -> dict:
    """The settings gunicorn.conf.py reads (``server=True``), parsed and checked like the others."""
    import os

    environ = os.environ if environ is None else environ
    values = SETTINGS.load({}, {k: v for k, v in environ.items() if k.removeprefix("REASSORT_") in _SERVER_NAMES})
    return {name: values[name] for name in _SERVER_NAMES}


_SERVER_NAMES = {s.name for s in SETTINGS if s.server}


def franceconnect_enabled(settings) -> bool:
    """The FranceConnect path is offered: an issuer is set, or the local stand-in runs."""
    return bool(settings.get("FRANCECONNECT_ISSUER") or settings.get("FRANCECONNECT_STANDIN"))
