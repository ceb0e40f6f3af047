"""Home, the vote-code gate and the voting space."""

from flask import Blueprint, redirect, render_template, request, session, url_for

import audit
import captcha_service
import election
import votegate
from extensions import db
from forms.vote import VoteCodeForm
from ratelimits import per_ip, per_voter
from voter_session import current_voter, login_required

bp = Blueprint("portal", __name__)

CODE_FAILED = "Le code de vote ou le CAPTCHA est incorrect. Vérifiez votre saisie et réessayez."
GATE_KEY = "gate"  # the voter id whose code opened the voting space in this session


@bp.get("/")
@login_required
def home():
    return render_template("portal/home.html", voter=current_voter())


@bp.route("/vote", methods=["GET", "POST"])
@login_required
@per_ip()
@per_voter("VOTE_CODE_LIMIT_PER_VOTER")
def vote():
    voter = current_voter()
    form = VoteCodeForm()
    error = None
    if request.method == "POST":
        captcha_ok = captcha_service.check(form.captcha_answer)
        if form.validate_on_submit():
            if not election.is_open():
                audit.record(db.session, "code_outside_window", voter.id)
                db.session.commit()
                error = "Le scrutin n'est pas ouvert : le vote n'est possible que pendant la période électorale."
            elif captcha_ok and votegate.code_matches(voter, form.code.data):
                audit.record(db.session, "code_ok", voter.id)
                db.session.commit()
                session[GATE_KEY] = voter.id
                return redirect(url_for("portal.voting_space"))
            else:
                audit.record(db.session, "code_failed", voter.id, None if captcha_ok else "captcha")
                db.session.commit()
                error = CODE_FAILED
    form.code.data = ""
    form.clear_captcha()
    return render_template("portal/vote.html", form=form, error=error,
                           challenge=captcha_service.new_challenge())


@bp.get("/espace-de-vote")
@login_required
def voting_space():
    voter = current_voter()
    if session.get(GATE_KEY) != voter.id or not election.is_open():
        return redirect(url_for("portal.vote"))
    return render_template("portal/voting_space.html", voter=voter)
