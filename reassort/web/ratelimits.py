"""The rate limits of every form POST (SEC-09): generous per IP, tight per voter."""


from reassort import runtime
from reassort.web import captcha_session
from reassort.web.client_address import client_ip
from reassort.web.extensions import limiter
from reassort.web.voter_session import voter_key


def per_ip(methods=("POST",), scope: str = "ip"):
    """30 requests a minute per route and per address by default (whole schools share one).

    Form POSTs by default; ``methods``/``scope`` let other routes (FranceConnect's
    GETs) share the same setting under counters of their own.
    """
    return limiter.limit(lambda: runtime.setting("RATELIMIT_PER_IP"), key_func=client_ip,
                         methods=list(methods), scope=scope)


def per_voter(setting: str):
    """The tight per-voter limit named by ``setting`` (e.g. ``VOTE_CODE_LIMIT_PER_VOTER``).

    « Afficher un autre CAPTCHA » posts the form back without checking anything: not an attempt.
    """
    return limiter.limit(lambda: runtime.setting(setting), key_func=voter_key,
                         methods=["POST"], scope="voter", exempt_when=captcha_session.refresh_requested)


def per_voter_shared(setting: str, scope: str):
    """Like ``per_voter``, but one counter for every route it decorates under ``scope``.

    « Mon compte »: the password check of either form draws on the same allowance.
    """
    return limiter.shared_limit(lambda: runtime.setting(setting), scope=scope, key_func=voter_key,
                                methods=["POST"])


def link_open():
    """The link endpoint is a GET, limited per address too (SEC-11)."""
    return limiter.limit(lambda: runtime.setting("LINK_OPEN_LIMIT_PER_IP"), key_func=client_ip,
                         scope="link")
