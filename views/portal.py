"""Home, the vote-code gate and the voting space."""

from flask import Blueprint, redirect, render_template, request, url_for

from forms.vote import VoteCodeForm
from reassort.procedures import poll, votegate
from reassort.web import captcha_session
from reassort.web.extensions import db
from reassort.web.ratelimits import per_ip, per_voter
from reassort.web.voter_session import current_voter, gate_open, login_required, open_gate
from views.texts import text

bp = Blueprint("portal", __name__)

ERRORS = {votegate.REFUSED: "code_failed", votegate.OUTSIDE_WINDOW: "outside_window"}


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
        captcha_ok = captcha_session.check(form.captcha_answer)
        if form.validate_on_submit():
            outcome = votegate.try_code(db.session, voter, form.code.data, captcha_ok)
            if outcome == votegate.OPENED:
                open_gate(voter)
                return redirect(url_for("portal.voting_space"))
            error = text(ERRORS[outcome])
    form.code.data = ""
    form.clear_captcha()
    return render_template("portal/vote.html", form=form, error=error, challenge=captcha_session.new_challenge())


@bp.get("/espace-de-vote")
@login_required
def voting_space():
    voter = current_voter()
    if not gate_open(voter) or not poll.is_open():
        return redirect(url_for("portal.vote"))
    return render_template("portal/voting_space.html", voter=voter)
