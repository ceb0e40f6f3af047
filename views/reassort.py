"""Réassort: choice, question défi, link, regeneration and the 120-second reveal."""

from flask import Blueprint, current_app, redirect, render_template, session, url_for

import audit
import clock
import codes
import contacts
import election
import questions
import reassort
import spelling
from extensions import db
from forms.common import Form
from forms.reassort import ChallengeForm
from ratelimits import link_open, per_ip, per_voter
from voter_session import current_voter, login_required

bp = Blueprint("reassort", __name__, url_prefix="/reassort")

TOKEN_KEY = "reissue"  # noqa: S105  (a session key's name) the link's token, moved into the session (SEC-17)

MESSAGES = {
    reassort.WRONG: "Les informations saisies ne permettent pas de vous identifier. Vérifiez votre réponse "
                    "et votre NUMEN ou n° de sécurité sociale, puis réessayez.",
    reassort.TOO_MANY_LINKS: "Vous avez demandé trop de liens en une heure. Réessayez plus tard.",
    reassort.CAPPED: "Le service d'envoi est très sollicité. Réessayez dans quelques minutes.",
    reassort.SEND_FAILED: "L'envoi du message a échoué de notre côté ; rien n'a été modifié et cette tentative "
                          "n'est pas décomptée. Réessayez dans quelques minutes ou choisissez l'autre canal.",
}


def _closed_page():
    return render_template("reassort/closed.html"), 403


def _locked_minutes(voter) -> int:
    return max(1, -(-(voter.challenge_locked_until - clock.now_int()) // 60))


@bp.get("")
@login_required
def choice():
    if election.has_closed():
        return _closed_page()
    franceconnect = bool(current_app.config.get("FRANCECONNECT_ISSUER")
                         or current_app.config.get("FRANCECONNECT_STANDIN"))
    return render_template("reassort/choice.html", franceconnect=franceconnect)


@bp.route("/question-defi", methods=["GET", "POST"])
@login_required
@per_ip()
@per_voter("CHALLENGE_LIMIT_PER_VOTER")
def challenge():
    voter = current_voter()
    if election.has_closed():
        return _closed_page()
    form = ChallengeForm(record_email=voter.email)
    error = None
    status = 200
    if reassort.is_locked(voter):
        error = (f"Trop de réponses erronées : la question défi est suspendue pendant environ "
                 f"{_locked_minutes(voter)} minute(s). Vous pouvez utiliser FranceConnect dès maintenant.")
        if form.is_submitted():
            audit.record(db.session, "challenge_locked", voter.id, "refused")
            db.session.commit()
            status = 429
    elif form.validate_on_submit():
        outcome = reassort.request_by_challenge(db.session, voter, form.answer.data, form.identifier.data,
                                                form.channel.data, form.destination)
        if outcome.outcome == reassort.SENT:
            masked = (contacts.mask_mobile(form.destination) if form.channel.data == "sms"
                      else contacts.mask_email(form.destination))
            return render_template("reassort/sent.html", channel=form.channel.data, masked=masked,
                                   minutes=int(current_app.config["REISSUE_LINK_MAX_AGE"]) // 60)
        if outcome.outcome == reassort.CLOSED:
            return _closed_page()
        db.session.refresh(voter)
        if outcome.outcome == reassort.LOCKED or reassort.is_locked(voter):
            error = (f"Trop de réponses erronées : la question défi est suspendue pendant environ "
                     f"{_locked_minutes(voter)} minute(s). Vous pouvez utiliser FranceConnect dès maintenant.")
        else:
            error = MESSAGES[outcome.outcome]
        status = 503 if outcome.outcome == reassort.SEND_FAILED else 200
    # Whatever was typed for the destination is never echoed back into the page.
    form.phone.data = form.personal_email.data = ""
    form.answer.data = form.identifier.data = ""
    return render_template("reassort/challenge.html", form=form, error=error,
                           question=questions.text(voter.question_id)), status


def _invalid_link():
    """The one page for every bad link: tampered, expired, used or superseded (SEC-03)."""
    audit.record(db.session, "link_invalid")
    db.session.commit()
    return render_template("reassort/link_invalid.html"), 400


@bp.get("/lien/<path:token>")
@link_open()
def open_link(token):
    """Check the link, move its token into the session, redirect without it (SEC-17)."""
    found = reassort.voter_for_link(db.session, token)
    if found is None:
        return _invalid_link()
    voter, _generation = found
    if election.has_closed():
        return _closed_page()
    session[TOKEN_KEY] = token
    audit.record(db.session, "link_opened", voter.id)
    db.session.commit()
    return redirect(url_for("reassort.regenerate"), 303)


@bp.route("/regenerer", methods=["GET", "POST"])
@per_ip()
def regenerate():
    token = session.get(TOKEN_KEY)
    found = reassort.voter_for_link(db.session, token) if token else None
    if found is None:
        session.pop(TOKEN_KEY, None)
        return _invalid_link()
    voter, generation = found
    if election.has_closed():
        return _closed_page()
    form = Form()
    if not form.validate_on_submit():
        return render_template("reassort/regenerate.html", form=form,
                               seconds=int(current_app.config["CODE_DISPLAY_SECONDS"]))
    session.pop(TOKEN_KEY, None)
    result = reassort.regenerate(db.session, voter.id, generation)
    if result is None:
        return render_template("reassort/link_invalid.html"), 400
    # This session stays; the voter's other sessions end.  No automatic entry into
    # the voting space: the new code is typed like any other time (SEC-31).
    session.pop("gate", None)
    if session.get("vid") == voter.id:
        session["ep"] = result.session_epoch
    return render_template("reassort/reveal.html", groups=codes.groups(result.code), code=result.code,
                           spelled=spelling.spell(result.code),
                           seconds=int(current_app.config["CODE_DISPLAY_SECONDS"]))


@bp.get("/affichage-termine")
def display_over():
    return render_template("reassort/display_over.html")
