"""Friendly French error pages; a 429 is counted in the audit tallies as a throttled attempt."""

from flask import Flask, render_template, request, session
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import OperationalError

from reassort.procedures import audit, quotas
from reassort.web.extensions import db
from reassort.web.voter_session import current_voter
from views.texts import text

MESSAGES = {
    400: ("Demande non traitée", "Votre demande n'a pas pu être traitée. Revenez à la page précédente et "
          "réessayez."),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable", "Cette page n'existe pas ou n'existe plus."),
    405: ("Action non permise", "Cette action n'est pas possible sur cette page."),
    413: ("Envoi trop volumineux", "Les données envoyées dépassent la taille permise. "
          "Revenez en arrière et vérifiez votre saisie."),
    429: ("Trop de tentatives", "Vous avez fait trop de tentatives en peu de temps. "
          "Patientez quelques minutes avant de réessayer."),
    500: ("Erreur du service", "Une erreur s'est produite de notre côté. Réessayez dans quelques instants."),
    503: ("Service momentanément indisponible", "Le service est très sollicité ou en maintenance. "
          "Réessayez dans quelques instants ; rien n'a été modifié."),
}


def render_error(status: int, message: str | None = None, title: str | None = None):
    default_title, default_text = MESSAGES[status]
    return render_template("errors/error.html", status=status, title=title or default_title,
                           text=message or default_text), status


def init_app(app: Flask) -> None:
    for status in (400, 403, 404, 405, 413, 500):
        app.register_error_handler(status, lambda e, s=status: render_error(s))

    @app.errorhandler(CSRFError)
    def _csrf(_e):
        return render_error(400, text("form_expired"), "Formulaire expiré")

    @app.errorhandler(429)
    def _throttled(_e):
        return _too_many(request.endpoint or "")

    @app.errorhandler(quotas.OverLimit)
    def _over_limit(e):
        db.session.rollback()
        return _too_many(e.what)

    @app.errorhandler(OperationalError)
    def _database_unavailable(_e):
        db.session.rollback()
        return _unavailable()

    @app.errorhandler(StorageError)
    def _limits_unavailable(_e):
        # The limiter's storage (Redis) is down: refuse rather than let forms go unthrottled.
        db.session.rollback()
        return _unavailable()


def _too_many(what: str):
    """The French 429 page; the refusal is audited once, then counted (``audit.throttled``)."""
    try:
        voter = current_voter()
        with db.new_session() as s:
            audit.throttled(s, voter.id if voter else None, what)
    except OperationalError:
        pass
    response, status = render_error(429)
    return response, status, {"Retry-After": "60"}


def _unavailable():
    """The 503 page; the browser keeps the session it came with.

    The database work was rolled back, so what the request put in the session
    (a login, a link's token popped before the regeneration) must not outlive it:
    the session cookie is left as it was (tests/test_faults.py).
    """
    response = render_error(503)  # rendering may touch the session too (current voter's last seen)
    session.modified = False
    return response
