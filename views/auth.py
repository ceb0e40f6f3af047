"""Portal login, logout and account activation."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import update

import accounts
import audit
import captcha_service
from extensions import db, limiter
from forms.auth import ActivationForm, LoginForm
from models import Voter
from questions import QUESTIONS
from ratelimits import per_ip
from voter_session import current_voter, log_in, log_out

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Adresse électronique ou mot de passe incorrect, ou CAPTCHA erroné."


def _login_account_key() -> str:
    # Per-account limit on the address typed (keyed, so the limiter store holds no address).
    from hashing import digest
    typed = accounts.normalise_email(request.form.get("email", ""))
    return "login:" + digest(current_app.config["HASH_PEPPER"], "login-key", typed)[:24]


@bp.route("/connexion", methods=["GET", "POST"])
@per_ip()
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_login_account_key,
               methods=["POST"], scope="account")
def login():
    form = LoginForm()
    if request.method == "POST":
        captcha_ok = captcha_service.check(form.captcha_answer)
        if form.validate_on_submit():
            voter = accounts.authenticate(db.session, form.email.data, form.password.data)
            if voter is not None and captcha_ok:
                log_in(voter)
                audit.record(db.session, "login_ok", voter.id)
                db.session.commit()
                return redirect(url_for("portal.home"))
            audit.record(db.session, "login_failed", voter.id if voter else None,
                         None if captcha_ok else "captcha")
            db.session.commit()
            form.password.errors = [LOGIN_FAILED]
    form.clear_captcha()
    return render_template("auth/login.html", form=form, challenge=captcha_service.new_challenge())


@bp.post("/deconnexion")
@per_ip()
def logout():
    voter = current_voter()
    if voter is not None:
        # Logging out ends every session of the voter, on every device.
        db.session.execute(update(Voter).where(Voter.id == voter.id)
                           .values(session_epoch=Voter.session_epoch + 1))
        audit.record(db.session, "logout", voter.id)
        db.session.commit()
    log_out()
    flash("Vous êtes déconnecté.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/activation/<token>", methods=["GET", "POST"])
@per_ip()
def activate(token):
    voter = accounts.voter_for_activation(db.session, token)
    if voter is None:
        audit.record(db.session, "activation_link_invalid")
        db.session.commit()
        return render_template("auth/activation_invalid.html"), 400
    form = ActivationForm()
    if form.validate_on_submit():
        done = accounts.activate(db.session, voter, voter.activation_generation, form.password.data,
                                 form.question.data, form.answer.data)
        if done:
            audit.record(db.session, "activation_ok", voter.id)
            db.session.commit()
            session.clear()
            flash("Votre compte est activé. Connectez-vous avec votre adresse et votre nouveau mot de passe.",
                  "success")
            return redirect(url_for("auth.login"))
        db.session.rollback()
        return render_template("auth/activation_invalid.html"), 400
    return render_template("auth/activation.html", form=form, email=voter.email, questions=QUESTIONS)
