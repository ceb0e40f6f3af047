"""The metrics derived from the audit trail: one table, event and detail → counters.

``audit.record`` calls :func:`note` for every event; the event is counted when the
caller's transaction commits (an event rolled back never happened) and forgotten
when it ends otherwise.  So the procedures carry no metric code, and a counter moves
by exactly what the trail says.  Details are short words from the code (a channel, a
reason, a path prefix, see ``audit.split_path``); the allow-lists of ``reassort.metrics``
still turn anything unexpected into ``other``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from reassort import metrics
from reassort.metrics import CHANNELS, FRANCECONNECT_ERRORS, FRANCECONNECT_FIELDS, PATHS

_PENDING = "reassort.metrics.pending"

REASSORT_OUTCOMES = frozenset({"sent", "wrong", "locked", "too_many_links", "capped", "send_failed",
                               "mismatch", "error", "cancelled"})
THROTTLE_LIMITS = frozenset({"links_per_hour", "global_cap_sms", "global_cap_email", "login_per_account",
                             "account_links_per_address", "account_links_per_hour", "account_global_cap_email"})


def _throttle_allowed(value: str) -> bool:
    # The per-voter quotas by name, or the endpoint a rate limit answered 429 on.
    return value in THROTTLE_LIMITS or metrics.endpoint_allowed(value)


def _event_known(value: str) -> bool:
    from reassort.procedures import audit  # audit imports this module
    return value in audit.EVENTS


AUDIT_EVENTS = metrics.counter("reassort_audit_events_total", "Événements du journal d'audit, par type.",
                               event=_event_known)
LOGINS = metrics.counter("reassort_logins_total", "Connexions au portail, par issue.",
                         outcome=frozenset({"ok", "refused", "captcha"}))
VOTE_CODES = metrics.counter("reassort_vote_codes_total", "Codes de vote saisis, par issue.",
                             outcome=frozenset({"accepted", "refused", "captcha", "outside_window"}))
REASSORTS = metrics.counter("reassort_reassort_requests_total",
                            "Demandes de réassort, par voie (question défi ou FranceConnect) et issue.",
                            path=PATHS, outcome=REASSORT_OUTCOMES)
LINKS = metrics.counter("reassort_links_total", "Liens de réassort, par canal et issue (envoyé, échec, plafond).",
                        channel=CHANNELS, outcome=frozenset({"sent", "send_failed", "capped"}))
LINK_OPENS = metrics.counter("reassort_link_opens_total", "Liens de réassort ouverts, valides ou non.",
                             outcome=frozenset({"valid", "invalid"}))
REGENERATIONS = metrics.counter("reassort_regenerations_total", "Codes régénérés, et régénérations concurrentes "
                                "écartées.", outcome=frozenset({"regenerated", "conflict"}))
LOCKS = metrics.counter("reassort_locks_total", "Suspensions posées (question défi après trop d'échecs).",
                        kind=frozenset({"challenge"}))
THROTTLED = metrics.counter("reassort_throttled_total", "Requêtes freinées, par limite (quota ou route en 429).",
                            limit=_throttle_allowed)
FRANCECONNECT = metrics.counter("reassort_franceconnect_total", "Retours de FranceConnect, par résultat.",
                                result=frozenset({"match", "mismatch", "error", "cancelled"}))
FRANCECONNECT_MISMATCHES = metrics.counter("reassort_franceconnect_mismatches_total",
                                           "Discordances d'identité FranceConnect, par champ.",
                                           field=FRANCECONNECT_FIELDS)
FRANCECONNECT_ERRORS_TOTAL = metrics.counter("reassort_franceconnect_errors_total",
                                             "Réponses de FranceConnect refusées, par motif.",
                                             reason=FRANCECONNECT_ERRORS)
ACTIVATIONS = metrics.counter("reassort_activations_total", "Activation des comptes : liens demandés par les "
                              "électeurs, envoyés, en échec, comptes activés, liens invalides.",
                              outcome=frozenset({"requested", "captcha", "link_sent", "send_failed", "activated",
                                                 "link_invalid"}))
PASSWORD_RESETS = metrics.counter("reassort_password_resets_total", "Mots de passe oubliés : demandes, liens "
                                  "envoyés, en échec, ouverts, invalides, mots de passe réinitialisés.",
                                  outcome=frozenset({"requested", "captcha", "link_sent", "send_failed",
                                                     "link_opened", "link_invalid", "reset"}))
ACCOUNT_CHANGES = metrics.counter("reassort_account_changes_total", "Mon compte : changements faits, ou refusés "
                                  "(mot de passe actuel erroné).", change=frozenset({"password", "challenge"}),
                                  outcome=frozenset({"done", "refused"}))


# -- event → counters -------------------------------------------------------------------

def _link_requested(path: str, word: str) -> None:
    LINKS.inc(channel=word, outcome="sent")
    REASSORTS.inc(path=path, outcome="sent")


def _link_send_failed(path: str, word: str) -> None:
    LINKS.inc(channel=word, outcome="send_failed")
    REASSORTS.inc(path=path, outcome="send_failed")


def _throttled(path: str, word: str) -> None:
    THROTTLED.inc(limit=word)
    if word == "links_per_hour":
        REASSORTS.inc(path=path, outcome="too_many_links")
    elif word.startswith("global_cap_"):
        REASSORTS.inc(path=path, outcome="capped")
        LINKS.inc(channel=word.removeprefix("global_cap_"), outcome="capped")


def _challenge_locked(_path: str, word: str) -> None:
    if word == "started":
        LOCKS.inc(kind="challenge")
    else:  # "refused": a question défi posted while suspended
        REASSORTS.inc(path="defi", outcome="locked")


def _franceconnect_mismatch(_path: str, word: str) -> None:
    FRANCECONNECT.inc(result="mismatch")
    REASSORTS.inc(path="franceconnect", outcome="mismatch")
    for field in filter(None, word.split(",")):
        FRANCECONNECT_MISMATCHES.inc(field=field)


def _franceconnect_error(_path: str, word: str) -> None:
    FRANCECONNECT.inc(result="error")
    FRANCECONNECT_ERRORS_TOTAL.inc(reason=word)
    REASSORTS.inc(path="franceconnect", outcome="error")


def _franceconnect_cancel(_path: str, _word: str) -> None:
    FRANCECONNECT.inc(result="cancelled")
    REASSORTS.inc(path="franceconnect", outcome="cancelled")


def _account_link_send_failed(_path: str, word: str) -> None:
    (PASSWORD_RESETS if word == "password_reset" else ACTIVATIONS).inc(outcome="send_failed")


def _outcome(family: metrics.Family, outcome: str) -> Callable[[str, str], None]:
    return lambda _path, _word: family.inc(outcome=outcome)


def _by_captcha(family: metrics.Family, refused: str) -> Callable[[str, str], None]:
    # A refusal is for a wrong CAPTCHA when the detail says so, else for the secret typed.
    return lambda _path, word: family.inc(outcome="captcha" if word == "captcha" else refused)


#: What each audited event moves, besides ``reassort_audit_events_total{event}``.
HANDLERS: dict[str, Callable[[str, str], None]] = {
    "login_ok": _outcome(LOGINS, "ok"),
    "login_failed": _by_captcha(LOGINS, "refused"),
    "code_ok": _outcome(VOTE_CODES, "accepted"),
    "code_failed": _by_captcha(VOTE_CODES, "refused"),
    "code_outside_window": _outcome(VOTE_CODES, "outside_window"),
    "link_requested": _link_requested,
    "link_send_failed": _link_send_failed,
    "throttled": _throttled,
    "challenge_failed": lambda _path, _word: REASSORTS.inc(path="defi", outcome="wrong"),
    "challenge_locked": _challenge_locked,
    "link_opened": _outcome(LINK_OPENS, "valid"),
    "link_invalid": _outcome(LINK_OPENS, "invalid"),
    "code_regenerated": _outcome(REGENERATIONS, "regenerated"),
    "regeneration_conflict": _outcome(REGENERATIONS, "conflict"),
    "franceconnect_match": lambda _path, _word: FRANCECONNECT.inc(result="match"),
    "franceconnect_mismatch": _franceconnect_mismatch,
    "franceconnect_error": _franceconnect_error,
    "franceconnect_cancel": _franceconnect_cancel,
    "activation_sent": _outcome(ACTIVATIONS, "link_sent"),
    "activation_ok": _outcome(ACTIVATIONS, "activated"),
    "activation_link_invalid": _outcome(ACTIVATIONS, "link_invalid"),
    "activation_requested": _by_captcha(ACTIVATIONS, "requested"),
    "password_reset_requested": _by_captcha(PASSWORD_RESETS, "requested"),
    "password_reset_sent": _outcome(PASSWORD_RESETS, "link_sent"),
    "account_link_send_failed": _account_link_send_failed,
    "password_reset_link_opened": _outcome(PASSWORD_RESETS, "link_opened"),
    "password_reset_link_invalid": _outcome(PASSWORD_RESETS, "link_invalid"),
    "password_reset_ok": _outcome(PASSWORD_RESETS, "reset"),
    "password_changed": lambda _path, _word: ACCOUNT_CHANGES.inc(change="password", outcome="done"),
    "challenge_changed": lambda _path, _word: ACCOUNT_CHANGES.inc(change="challenge", outcome="done"),
    "account_change_refused": lambda _path, word: ACCOUNT_CHANGES.inc(change=word, outcome="refused"),
}


def count(event: str, detail: str | None) -> None:
    """Move the counters of one committed audit event."""
    from reassort.procedures.audit import split_path

    AUDIT_EVENTS.inc(event=event)
    handler = HANDLERS.get(event)
    if handler is not None:
        path, word = split_path(detail)
        handler(path, word)


# -- counted at commit ------------------------------------------------------------------

def note(session: Session, event: str, detail: str | None) -> None:
    """Count ``event`` once ``session``'s transaction commits (called by ``audit.record``)."""
    session.info.setdefault(_PENDING, []).append((event, detail))


@sa_event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for event, detail in session.info.pop(_PENDING, ()):
        count(event, detail)


@sa_event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    # Rolled back, or closed without a commit: what it noted never happened.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
