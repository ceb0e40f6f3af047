"""FranceConnect réassort path (SPEC §1 step 5): start, callback, logout.

HTTP only: the protocol lives in ``franceconnect_client``, the identity rule in
``identity``, the link in ``recovery.send_link``.  The browser's session holds
the attempt's ``state``/``nonce`` (single use, SEC-25) and, after an outcome,
the raw ID token until the voter logs out of FranceConnect (``id_token_hint``).
"""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from reassort import runtime
from reassort.adapters.franceconnect.client import Attempt, Cancelled, FranceConnectError, random_token
from reassort.procedures import audit, recovery
from reassort.rules import contacts, identity
from reassort.web.extensions import db
from reassort.web.franceconnect import client
from reassort.web.guards import refused_once_closed
from reassort.web.ratelimits import per_ip
from reassort.web.voter_session import current_voter, login_required
from views.reassort import remember_sent
from views.texts import text

log = logging.getLogger("reassort.franceconnect")

bp = Blueprint("franceconnect", __name__, url_prefix="/reassort/franceconnect")

ATTEMPT_KEY = "fc_attempt"
ID_TOKEN_KEY = "fc_id_token"  # noqa: S105  (a session key's name, not a secret)
LOGOUT_STATE_KEY = "fc_logout_state"
MISMATCH_KEY = "fc_mismatch"
#: An attempt left at the provider longer than this is not taken back.
ATTEMPT_MAX_AGE = 600


def _per_ip_get():
    # These GETs start outbound calls and may send a mail: the forms' generous per-IP limit applies.
    return per_ip(methods=("GET",), scope="ip-fc")


def _problem(kind: str, status: int, reason: str | None = None):
    """A friendly page; nothing was sent.  ``reason`` goes to the audit trail."""
    voter = current_voter()
    if reason:
        audit.record(db.session, "franceconnect_error", voter.id if voter else None, reason)
        db.session.commit()
    return render_template("franceconnect/problem.html", kind=kind,
                           can_logout=ID_TOKEN_KEY in session), status


@bp.get("")
@login_required
@refused_once_closed
@_per_ip_get()
def start():
    """Send the browser to FranceConnect with a fresh state and nonce."""
    session.pop(ID_TOKEN_KEY, None)
    session.pop(MISMATCH_KEY, None)
    fc = client()
    attempt = fc.new_attempt()
    try:
        url = fc.authorization_url(attempt)
    except FranceConnectError as exc:
        log.warning("FranceConnect indisponible : %s", exc)
        return _problem("unavailable", 503, exc.reason)
    session[ATTEMPT_KEY] = attempt.to_dict()
    return redirect(url, 303)


@bp.get("/retour")
@login_required
@refused_once_closed
@_per_ip_get()
def callback():
    """The provider's return: check, fetch the identity, match, send the link by e-mail."""
    voter = current_voter()
    # Popped first: whatever happens next, this state and nonce never serve again.
    attempt = Attempt.from_dict(session.pop(ATTEMPT_KEY, None))
    if attempt is None or runtime.now() - attempt.started_at > ATTEMPT_MAX_AGE:
        return _problem("state", 400, "state")
    try:
        found = client().finish(attempt, request.args)
    except Cancelled:
        audit.record(db.session, "franceconnect_cancel", voter.id)
        db.session.commit()
        flash(text("franceconnect_cancelled"), "info")
        return redirect(url_for("reassort.choice"), 303)
    except FranceConnectError as exc:
        log.warning("FranceConnect : réponse refusée (%s)", exc)
        return _problem("state" if exc.reason == "state" else "provider", 400 if exc.reason == "state" else 502,
                        exc.reason)
    # Kept only for the logout's id_token_hint; it names no one (sub is pairwise).
    session[ID_TOKEN_KEY] = found.id_token
    differ = identity.mismatches(voter, identity.Claimed.from_claims(found.claims))
    if differ:
        audit.record(db.session, "franceconnect_mismatch", voter.id, ",".join(differ))
        db.session.commit()
        # Post/redirect/get: a reload shows this outcome again, not « réponse périmée ».
        session[MISMATCH_KEY] = True
        return redirect(url_for("franceconnect.mismatch"), 303)
    address = contacts.parse_email(str(found.claims.get("email") or ""))
    if address is None:
        return _problem("no_email", 502, "email")
    audit.record(db.session, "franceconnect_match", voter.id)
    db.session.commit()
    outcome = recovery.send_link(db.session, voter, "email", address, path=audit.FRANCECONNECT).outcome
    if outcome == recovery.SENT:
        # « Lien envoyé » is a page of its own: reloading it sends nothing and says the same.
        remember_sent("email", contacts.mask_email(address), by="franceconnect")
        return redirect(url_for("reassort.sent"), 303)
    unavailable = {recovery.SEND_FAILED, recovery.SEND_UNCERTAIN, recovery.CHANNEL_DOWN}
    return _problem(outcome, 503 if outcome in unavailable else 429)


@bp.get("/identite-non-reconnue")
@login_required
def mismatch():
    """The identity returned did not match the register (after the redirect of the callback)."""
    if not session.get(MISMATCH_KEY):
        return redirect(url_for("reassort.choice"), 303)
    return render_template("franceconnect/mismatch.html")


@bp.get("/deconnexion")
def logout():
    """Log out of FranceConnect: a redirect to its ``/session/end``.

    A link rather than a form: the CSP's ``form-action 'self'`` would stop a
    form's redirect to the provider, and this only ends the FranceConnect session.
    """
    id_token = session.pop(ID_TOKEN_KEY, None)
    if not id_token:
        return redirect(url_for("reassort.choice"), 303)
    state = random_token()
    try:
        url = client().logout_url(id_token, state)
    except FranceConnectError as exc:
        return _problem("unavailable", 503, exc.reason)
    session[LOGOUT_STATE_KEY] = state
    return redirect(url, 303)


@bp.get("/deconnexion/retour")
def logged_out():
    """Back from FranceConnect's logout."""
    expected = session.pop(LOGOUT_STATE_KEY, None)
    if not expected or not secrets.compare_digest(expected.encode(), request.args.get("state", "").encode()):
        return redirect(url_for("portal.home"), 303)
    return render_template("franceconnect/logged_out.html")
