"""The voter's account around the journey (SPEC §1b, SEC-49).

- « Mot de passe oublié ? » (``/mot-de-passe-oublie``) and « Je n'ai pas reçu mon lien
  d'activation » (``/nouveau-lien-activation``): the address and the CAPTCHA, then the
  same redirect to the same neutral page whatever the address; the mail leaves after
  the answer (``after_response``), so that its time tells nothing either.
- The forgotten-password link (``/mot-de-passe/lien/<token>``), like the réassort's:
  opening it changes nothing, moves the token into the session and redirects to
  ``/mot-de-passe/nouveau``, where only the POST sets the new password.
- « Mon compte » (``/mon-compte``): the password, or the question défi and its answer,
  each after the current password.
"""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from forms.account import ChangeChallengeForm, ChangePasswordForm
from forms.auth import AccountLinkForm, NewPasswordForm
from reassort.procedures import account_changes, account_links, audit
from reassort.rules import questions
from reassort.web import after_response, captcha_session
from reassort.web.admission import admitted
from reassort.web.extensions import db
from reassort.web.ratelimits import link_open, per_ip, per_voter_shared
from reassort.web.voter_session import current_voter, keep_this_session, login_required
from views.portal import captcha_expired_message
from views.texts import text

bp = Blueprint("account", __name__)

RESET_KEY = "password_reset"  # the forgotten-password link's token, moved into the session (as SEC-17)

#: Per form: its endpoint, and the endpoint of the neutral page it redirects to.
REQUESTED = {account_links.PASSWORD: "account.password_requested",
             account_links.ACTIVATION: "account.activation_requested"}


def _request_form(form_kind: str, endpoint: str):
    """One neutral form: every solved POST gets the same 303 to the same page (SEC-49)."""
    form = AccountLinkForm()
    if request.method == "POST" and not captcha_session.refresh_requested():
        expired = captcha_session.expired()
        captcha_ok = captcha_session.check(form.captcha_answer)
        if form.validate_on_submit():
            voter_id = account_links.request_link(db.session, form_kind, form.email.data, captcha_ok)
            if captcha_ok:
                # Deferred for every address, nobody's too (then it does nothing): the same answer.
                after_response.defer(account_links.send_link, voter_id)
                return redirect(url_for(REQUESTED[form_kind]), 303)
        if not captcha_ok and form.captcha_answer and not form.captcha.errors:
            form.captcha.errors = [captcha_expired_message() if expired else text("captcha_wrong")]
    form.clear_captcha()
    return render_template("account/link_request.html", form=form, kind=form_kind, endpoint=endpoint,
                           challenge=captcha_session.new_challenge())


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@per_ip()
def forgot_password():
    return _request_form(account_links.PASSWORD, "account.forgot_password")


@bp.route("/nouveau-lien-activation", methods=["GET", "POST"])
@per_ip()
def activation_request():
    return _request_form(account_links.ACTIVATION, "account.activation_request")


@bp.get("/mot-de-passe-oublie/demande-enregistree")
def password_requested():
    return render_template("account/link_requested.html", kind=account_links.PASSWORD)


@bp.get("/nouveau-lien-activation/demande-enregistree")
def activation_requested():
    return render_template("account/link_requested.html", kind=account_links.ACTIVATION)


def _invalid_reset_link():
    """The one page for every bad forgotten-password link (tampered, expired, used, superseded)."""
    return render_template("account/reset_invalid.html"), 400


@bp.get("/mot-de-passe/lien/<path:token>")
@link_open()
def open_reset_link(token):
    """Check the link, move its token into the session, redirect without it: nothing changes."""
    found = account_links.voter_for_reset(db.session, token)
    if found is None:
        return _invalid_reset_link()
    session[RESET_KEY] = token
    audit.record(db.session, "password_reset_link_opened", found[0].id)
    db.session.commit()
    return redirect(url_for("account.new_password"), 303)


@bp.route("/mot-de-passe/nouveau", methods=["GET", "POST"])
@per_ip()
@admitted
def new_password():
    found = account_links.voter_for_reset(db.session, session.get(RESET_KEY))
    if found is None:
        session.pop(RESET_KEY, None)
        return _invalid_reset_link()
    voter, generation = found
    form = NewPasswordForm()
    if form.validate_on_submit():
        if not account_links.reset_password(db.session, voter.id, generation, form.password.data):
            session.pop(RESET_KEY, None)
            return _invalid_reset_link()
        # Every session of the voter has ended, this browser's too: the voter logs in again.
        session.clear()
        flash(text("password_reset_done"), "success")
        return redirect(url_for("auth.login"), 303)
    return render_template("account/reset.html", form=form, email=voter.email)


@bp.get("/mon-compte")
@login_required
def account():
    voter = current_voter()
    return render_template("account/home.html", voter=voter, question=questions.text(voter.question_id))


@bp.route("/mon-compte/mot-de-passe", methods=["GET", "POST"])
@login_required
@per_ip()
@per_voter_shared("ACCOUNT_LIMIT_PER_VOTER", "account-changes")
@admitted
def change_password():
    voter = current_voter()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        epoch = account_changes.change_password(db.session, voter, form.current_password.data, form.password.data)
        if epoch is not None:
            # The voter's other sessions have ended; this one stays.
            keep_this_session(voter.id, epoch)
            flash(text("password_changed"), "success")
            return redirect(url_for("account.account"), 303)
        form.current_password.errors = [text("current_password_wrong")]
    return render_template("account/password.html", form=form, email=voter.email)


@bp.route("/mon-compte/question-defi", methods=["GET", "POST"])
@login_required
@per_ip()
@per_voter_shared("ACCOUNT_LIMIT_PER_VOTER", "account-changes")
@admitted
def change_challenge():
    voter = current_voter()
    form = ChangeChallengeForm()
    if form.validate_on_submit():
        if account_changes.change_challenge(db.session, voter, form.current_password.data, form.question.data,
                                            form.answer.data):
            flash(text("challenge_changed"), "success")
            return redirect(url_for("account.account"), 303)
        form.current_password.errors = [text("current_password_wrong")]
    elif not form.is_submitted():
        form.question.data = voter.question_id
    form.answer.data = ""  # the answer typed never goes back into the page
    return render_template("account/challenge.html", form=form)
