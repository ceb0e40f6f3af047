"""Réassort: choice, question défi, link, regeneration and the 120-second reveal.

Every result page is reached by post/redirect/get, so that a reload never sends
anything again: « Lien envoyé » is a GET showing the masked destination kept in
the session (``SENT_KEY``: the channel and the masked form only, what the page
shows — never the number or address typed).  The reveal is the one exception:
the new code may exist nowhere but in the answer to the POST that made it
(SEC-32), so a reload of it (or of ``/reassort/regenerer``) shows the page « votre
code a déjà été régénéré à 10 h 42 » instead, from ``DONE_KEY`` (that instant).
"""

from flask import Blueprint, current_app, redirect, render_template, session, url_for

import config
from forms.common import Form
from forms.reassort import ChallengeForm
from reassort import runtime
from reassort.procedures import audit, recovery, sending
from reassort.rules import codes, contacts, questions, spelling
from reassort.web.admission import admitted, checked
from reassort.web.extensions import db
from reassort.web.guards import refused_once_closed
from reassort.web.ratelimits import link_open, per_ip, per_voter
from reassort.web.voter_session import after_regeneration, current_voter, login_required
from views.texts import text

bp = Blueprint("reassort", __name__, url_prefix="/reassort")

TOKEN_KEY = "reissue"  # noqa: S105  (a session key's name) the link's token, moved into the session (SEC-17)
SENT_KEY = "reassort_sent"  # {"channel", "masked", "by"}: what the « Lien envoyé » page shows
DONE_KEY = "reassort_done"  # when this browser regenerated the code (epoch s, = the voter's code_issued_at)

ERRORS = {recovery.TOO_MANY_LINKS: "too_many_links", recovery.CAPPED: "capped",
          recovery.SEND_FAILED: "send_failed", recovery.SEND_UNCERTAIN: "send_uncertain"}
#: Outcomes answered 503: our side could not send (the voter is told to retry or take another way).
UNAVAILABLE = {recovery.SEND_FAILED, recovery.SEND_UNCERTAIN, recovery.CHANNEL_DOWN}


def franceconnect_offered() -> bool:
    return config.franceconnect_enabled(current_app.config)


def attempts_left(voter) -> int:
    """Wrong answers still allowed before the question défi is suspended."""
    return max(0, runtime.setting("CHALLENGE_MAX_FAILURES") - voter.challenge_failures)


def remember_sent(channel: str, masked: str, by: str = "challenge") -> None:
    """Keep what « Lien envoyé » shows (masked destination only) for the page after the redirect."""
    session[SENT_KEY] = {"channel": channel, "masked": masked, "by": by}


@bp.get("")
@login_required
@refused_once_closed
def choice():
    return render_template("reassort/choice.html", franceconnect=franceconnect_offered())


def _locked(voter, status: int):
    """The question défi is suspended: no form, the unlock time, and FranceConnect right there."""
    return render_template("reassort/locked.html", until=voter.challenge_locked_until,
                           franceconnect=franceconnect_offered()), status


@bp.route("/question-defi", methods=["GET", "POST"])
@login_required
@refused_once_closed
@per_ip()
@per_voter("CHALLENGE_LIMIT_PER_VOTER")
@admitted
def challenge():
    voter = current_voter()
    form = ChallengeForm(record_email=voter.email)
    error = None
    status = 200
    if recovery.is_locked(voter):
        if form.is_submitted():
            audit.record(db.session, "challenge_locked", voter.id, "refused")
            db.session.commit()
            status = 429
        return _locked(voter, status)
    if form.validate_on_submit():
        outcome = recovery.request_by_challenge(db.session, voter, form.answer.data, form.identifier.data,
                                                form.channel.data, form.destination, checked=checked)
        if outcome.outcome == recovery.SENT:
            masked = (contacts.mask_mobile(form.destination) if form.channel.data == "sms"
                      else contacts.mask_email(form.destination))
            remember_sent(form.channel.data, masked)
            return redirect(url_for("reassort.sent"), 303)
        db.session.refresh(voter)
        if outcome.outcome == recovery.LOCKED or recovery.is_locked(voter):
            return _locked(voter, 200)
        if outcome.outcome == recovery.WRONG:
            # The same words whichever of the answer and the identifier was wrong (SEC-01).
            error = text("challenge_wrong", left=attempts_left(voter))
        elif outcome.outcome == recovery.CHANNEL_DOWN:
            error = text("channel_down", channel=form.channel.data)
        else:
            error = text(ERRORS[outcome.outcome])
        status = 503 if outcome.outcome in UNAVAILABLE else 200
    form.forget_secrets()
    # A provider being skipped is said before the voter types anything: the other ways are offered.
    down = [c for c in ("sms", "email") if not sending.channel_open(c)]
    return render_template("reassort/challenge.html", form=form, error=error, left=attempts_left(voter),
                           question=questions.text(voter.question_id), down=down,
                           franceconnect=franceconnect_offered()), status


@bp.get("/lien-envoye")
@login_required
@refused_once_closed
def sent():
    """« Lien envoyé », after the redirect: a reload shows it again and sends nothing."""
    shown = session.get(SENT_KEY)
    if not shown:
        return redirect(url_for("reassort.choice"), 303)
    template = "franceconnect/sent.html" if shown.get("by") == "franceconnect" else "reassort/sent.html"
    return render_template(template, channel=shown["channel"], masked=shown["masked"])


def _invalid_link():
    """The one page for every bad link: tampered, expired, used or superseded (SEC-03).

    ``recovery.voter_for_link`` has audited why (with the voter when the signature is genuine).
    """
    return render_template("reassort/link_invalid.html"), 400


@bp.get("/lien/<path:token>")
@link_open()
@refused_once_closed
def open_link(token):
    """Check the link, move its token into the session, redirect without it (SEC-17)."""
    found = recovery.voter_for_link(db.session, token)
    if found is None:
        return _invalid_link()
    voter, _generation = found
    session[TOKEN_KEY] = token
    session.pop(DONE_KEY, None)
    audit.record(db.session, "link_opened", voter.id)
    db.session.commit()
    return redirect(url_for("reassort.regenerate"), 303)


def _already_regenerated():
    """This browser regenerated the code already: say when, rather than « lien invalide »."""
    return render_template("reassort/already_regenerated.html", issued_at=session[DONE_KEY])


@bp.route("/regenerer", methods=["GET", "POST"])
@per_ip()
@refused_once_closed
def regenerate():
    token = session.get(TOKEN_KEY)
    if not token and session.get(DONE_KEY) is not None:
        return _already_regenerated()
    found = recovery.voter_for_link(db.session, token)
    if found is None:
        session.pop(TOKEN_KEY, None)
        return _invalid_link()
    voter, generation = found
    form = Form()
    if not form.validate_on_submit():
        return render_template("reassort/regenerate.html", form=form,
                               seconds=runtime.setting("CODE_DISPLAY_SECONDS"))
    session.pop(TOKEN_KEY, None)
    result = recovery.regenerate(db.session, voter.id, generation)
    if result is None:
        return render_template("reassort/link_invalid.html"), 400
    # This session stays; the voter's other sessions end.  No automatic entry into
    # the voting space: the new code is typed like any other time (SEC-31).
    after_regeneration(voter.id, result.session_epoch)
    # The instant written as the voter's code_issued_at by the same regeneration.
    session[DONE_KEY] = runtime.now_int()
    return render_template("reassort/reveal.html", groups=codes.groups(result.code), code=result.code,
                           spelled=spelling.spell(result.code),
                           seconds=runtime.setting("CODE_DISPLAY_SECONDS"))


@bp.get("/affichage-termine")
def display_over():
    return render_template("reassort/display_over.html")
