"""Réassort: choice, question défi, link, regeneration and the 120-second reveal."""

from flask import Blueprint, current_app, redirect, render_template, session, url_for

import config
from forms.common import Form
from forms.reassort import ChallengeForm
from reassort import runtime
from reassort.procedures import audit, recovery
from reassort.rules import codes, contacts, questions, spelling
from reassort.web.extensions import db
from reassort.web.guards import refused_once_closed
from reassort.web.ratelimits import link_open, per_ip, per_voter
from reassort.web.voter_session import after_regeneration, current_voter, login_required
from views.texts import text

bp = Blueprint("reassort", __name__, url_prefix="/reassort")

TOKEN_KEY = "reissue"  # noqa: S105  (a session key's name) the link's token, moved into the session (SEC-17)

ERRORS = {recovery.WRONG: "challenge_wrong", recovery.TOO_MANY_LINKS: "too_many_links",
          recovery.CAPPED: "capped", recovery.SEND_FAILED: "send_failed"}


def _lock_message(voter) -> str:
    minutes = max(1, -(-(voter.challenge_locked_until - runtime.now_int()) // 60))
    return text("challenge_locked", minutes=minutes)


@bp.get("")
@login_required
@refused_once_closed
def choice():
    return render_template("reassort/choice.html", franceconnect=config.franceconnect_enabled(current_app.config))


@bp.route("/question-defi", methods=["GET", "POST"])
@login_required
@refused_once_closed
@per_ip()
@per_voter("CHALLENGE_LIMIT_PER_VOTER")
def challenge():
    voter = current_voter()
    form = ChallengeForm(record_email=voter.email)
    error = None
    status = 200
    if recovery.is_locked(voter):
        error = _lock_message(voter)
        if form.is_submitted():
            audit.record(db.session, "challenge_locked", voter.id, "refused")
            db.session.commit()
            status = 429
    elif form.validate_on_submit():
        outcome = recovery.request_by_challenge(db.session, voter, form.answer.data, form.identifier.data,
                                                form.channel.data, form.destination)
        if outcome.outcome == recovery.SENT:
            masked = (contacts.mask_mobile(form.destination) if form.channel.data == "sms"
                      else contacts.mask_email(form.destination))
            return render_template("reassort/sent.html", channel=form.channel.data, masked=masked,
                                   minutes=runtime.setting("REISSUE_LINK_MAX_AGE") // 60)
        db.session.refresh(voter)
        if outcome.outcome == recovery.LOCKED or recovery.is_locked(voter):
            error = _lock_message(voter)
        else:
            error = text(ERRORS[outcome.outcome])
        status = 503 if outcome.outcome == recovery.SEND_FAILED else 200
    # Whatever was typed for the destination is never echoed back into the page.
    form.phone.data = form.personal_email.data = ""
    form.answer.data = form.identifier.data = ""
    return render_template("reassort/challenge.html", form=form, error=error,
                           question=questions.text(voter.question_id)), status


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
    audit.record(db.session, "link_opened", voter.id)
    db.session.commit()
    return redirect(url_for("reassort.regenerate"), 303)


@bp.route("/regenerer", methods=["GET", "POST"])
@per_ip()
@refused_once_closed
def regenerate():
    token = session.get(TOKEN_KEY)
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
    return render_template("reassort/reveal.html", groups=codes.groups(result.code), code=result.code,
                           spelled=spelling.spell(result.code),
                           seconds=runtime.setting("CODE_DISPLAY_SECONDS"))


@bp.get("/affichage-termine")
def display_over():
    return render_template("reassort/display_over.html")
