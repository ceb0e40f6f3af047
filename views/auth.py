"""Portal login, logout and account activation."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from forms.auth import ActivationForm, LoginForm
from reassort.procedures import accounts
from reassort.rules.questions import QUESTIONS
from reassort.web import captcha_session
from reassort.web.admission import admitted
from reassort.web.extensions import db
from reassort.web.ratelimits import per_ip
from reassort.web.voter_session import current_voter, log_in, log_out
from views.portal import captcha_expired_message
from views.texts import text

bp = Blueprint("auth", __name__)


@bp.route("/connexion", methods=["GET", "POST"])
@per_ip()
@admitted
def login():
    # The per-account limit is reserved inside ``log_in_attempt``, and only once the CAPTCHA
    # is solved: posting someone's address with a wrong CAPTCHA never locks them out (SEC-42).
    form = LoginForm()
    if captcha_session.refresh_requested():
        # « Afficher un autre CAPTCHA »: the address and password typed stay, nothing is checked.
        form.keep_password()
    elif request.method == "POST":
        expired = captcha_session.expired()
        captcha_ok = captcha_session.check(form.captcha_answer)
        if form.validate_on_submit():
            voter = accounts.log_in_attempt(db.session, form.email.data, form.password.data, captcha_ok)
            if voter is not None:
                log_in(voter)
                return redirect(url_for("portal.home"))
            if not expired:
                form.password.errors = [text("login_failed")]
        if expired and form.captcha_answer:
            # Said on the CAPTCHA field, whatever the password: nothing is told about the account.
            form.captcha.errors = [captcha_expired_message()]
    form.clear_captcha()
    return render_template("auth/login.html", form=form, challenge=captcha_session.new_challenge(),
                           logged_in=current_voter() is not None)


@bp.post("/deconnexion")
@per_ip()
def logout():
    voter = current_voter()
    if voter is not None:
        # Logging out ends every session of the voter, on every device.
        accounts.end_all_sessions(db.session, voter.id)
    log_out()
    flash(text("logged_out"), "success")
    return redirect(url_for("auth.login"))


@bp.route("/activation/<token>", methods=["GET", "POST"])
@per_ip()
@admitted
def activate(token):
    voter = accounts.voter_for_activation(db.session, token)
    if voter is None:  # audited (or counted) by the procedure
        return render_template("auth/activation_invalid.html"), 400
    form = ActivationForm()
    if form.validate_on_submit():
        if accounts.activate(db.session, voter, voter.activation_generation, form.password.data,
                             form.question.data, form.answer.data):
            session.clear()
            flash(text("activated"), "success")
            return redirect(url_for("auth.login"))
        return render_template("auth/activation_invalid.html"), 400
    return render_template("auth/activation.html", form=form, email=voter.email, questions=QUESTIONS)
