"""HTTP only: each module is one blueprint that parses, calls the domain, renders."""

from flask import Flask

import config


def init_app(app: Flask) -> None:
    from views import account, auth, captcha, context, errors, health, portal, reassort, site

    errors.init_app(app)
    context.init_app(app)
    for module in (auth, account, portal, captcha, reassort, health, site):
        app.register_blueprint(module.bp)
    if config.franceconnect_enabled(app.config):
        from views import franceconnect
        app.register_blueprint(franceconnect.bp)
    if app.config.get("METRICS_TOKEN"):
        from views import metrics
        app.register_blueprint(metrics.bp)
    if app.config.get("FRANCECONNECT_STANDIN"):
        from reassort.adapters.franceconnect.standin import views as standin
        app.register_blueprint(standin.bp)

    @app.context_processor
    def _inject_voter():
        from flask import g
        from sqlalchemy.exc import SQLAlchemyError

        if g.get("no_voter"):  # a shed or suspended request reads nothing (reassort.web.admission)
            return {"current_voter": None}

        from reassort.web.voter_session import current_voter
        try:
            return {"current_voter": current_voter()}
        except SQLAlchemyError:
            # The 503 page must render even when the database is what failed.
            return {"current_voter": None}
