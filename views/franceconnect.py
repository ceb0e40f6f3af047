"""FranceConnect réassort path (issue 4): placeholder blueprint until the client lands."""

from flask import Blueprint, flash, redirect, url_for

from voter_session import login_required

bp = Blueprint("franceconnect", __name__, url_prefix="/reassort/franceconnect")


@bp.get("")
@login_required
def start():
    flash("La connexion FranceConnect n'est pas encore disponible.", "error")
    return redirect(url_for("reassort.choice"))
