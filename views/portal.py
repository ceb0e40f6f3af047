"""Home, the vote-code gate and the voting space."""

from flask import Blueprint, redirect, render_template, url_for

from forms.vote import VoteCodeForm
from reassort import runtime
from reassort.procedures import poll, votegate
from reassort.rules.election import CLOSED, NOT_YET
from reassort.web import captcha_session
from reassort.web.extensions import db
from reassort.web.ratelimits import per_ip, per_voter
from reassort.web.voter_session import current_voter, gate_open, login_required, open_gate
from views.texts import text

bp = Blueprint("portal", __name__)


def captcha_expired_message():
    return text("captcha_expired", minutes=max(1, runtime.setting("CAPTCHA_MAX_AGE") // 60))


def _outside_window_message():
    window = poll.window()
    if poll.state() == NOT_YET:
        return text("poll_not_yet", opens=window.opens)
    return text("poll_closed", closes=window.closes)


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
    keep_code = captcha_session.refresh_requested()  # « Afficher un autre CAPTCHA »: the code typed stays
    if form.is_submitted() and not keep_code:
        expired = captcha_session.expired()
        captcha_ok = captcha_session.check(form.captcha_answer)
        if form.validate_on_submit():
            outcome = votegate.try_code(db.session, voter, form.code.data, captcha_ok)
            if outcome == votegate.OPENED:
                open_gate(voter)
                return redirect(url_for("portal.voting_space"))
            if outcome == votegate.OUTSIDE_WINDOW:
                error = _outside_window_message()
            elif not expired:
                error = text("code_failed")
        if expired and form.captcha_answer:
            form.captcha.errors = [captcha_expired_message()]
    if not keep_code:
        form.code.data = ""
    form.clear_captcha()
    state = poll.state()
    # Outside the window there is nothing to type: the page says why, and no CAPTCHA is issued.
    challenge = captcha_session.new_challenge() if state not in (NOT_YET, CLOSED) else None
    return render_template("portal/vote.html", form=form, error=error, challenge=challenge, state=state)


@bp.get("/espace-de-vote")
@login_required
def voting_space():
    voter = current_voter()
    if not gate_open(voter) or not poll.is_open():
        return redirect(url_for("portal.vote"))
    return render_template("portal/voting_space.html", voter=voter)
