"""``demo``: demo voters for the README's demo command, printed with their secrets.

Development only (refused in production).  Each run gives every demo voter a
fresh vote code, since codes are stored only as keyed digests and cannot be
shown again.  The voters match the FranceConnect stand-in's test identities.
"""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from reassort import runtime
from reassort.procedures import votegate
from reassort.rules import codes
from reassort.rules.hashing import bcrypt_hash, normalise_answer
from reassort.rules.identifiers import nir_digest, numen_digest
from reassort.rules.questions import QUESTIONS
from reassort.rules.tokens import fresh_generation
from reassort.storage.models import Scrutin, Voter
from reassort.web.extensions import db

PASSWORD = "vote-demo-2026"  # noqa: S105  (the demo's published password; demo refused in production)
ANSWER = "Camille"
SCRUTINS = ["CAP académique — professeurs certifiés", "Comité social d'administration ministériel"]
DEMO_NIR = {"angela": "2620875107", "jean-pierre": "1750369123", "aissatou": "2881199341",
            "marc-antoine": "158062A004"}


def _demo_voters():
    # Imported here: every web worker registers the CLI, and the stand-in package
    # would load PyJWT and cryptography into workers that never run this command.
    from reassort.adapters.franceconnect.standin.identities import IDENTITIES, NOBODY

    for n, identity in enumerate((i for i in IDENTITIES if i.key != NOBODY), start=1):
        email = f"{identity.key.replace('-', '.')}.demo@education.gouv.fr"
        yield n, identity, email


@click.command("demo")
def demo():
    """Crée (ou remet à zéro) les électeurs de démonstration et affiche leurs accès."""
    if runtime.setting("ENV") == "production":
        raise click.ClickException("la démonstration est interdite en production")
    pepper = runtime.setting("HASH_PEPPER")
    rounds = runtime.setting("BCRYPT_ROUNDS")
    s = db.new_session()
    rows = []
    from reassort.adapters.franceconnect.standin.identities import registry_fields

    for n, identity, email in _demo_voters():
        identifiant = f"DEMO-{n:03d}"
        voter = s.scalar(select(Voter).where(Voter.identifiant == identifiant)) or Voter(identifiant=identifiant)
        for key, value in registry_fields(identity).items():
            setattr(voter, key, value)
        numen = f"{n:02d}E{n:07d}DEM"
        code = codes.generate()
        voter.email = email
        voter.numen_digest = numen_digest(pepper, numen)
        voter.nir_digest = nir_digest(pepper, DEMO_NIR[identity.key])
        voter.password_hash = bcrypt_hash(PASSWORD, rounds, pepper)
        voter.question_id = "q1"
        voter.answer_hash = bcrypt_hash(normalise_answer(ANSWER), rounds, pepper)
        voter.code_digest = votegate.code_digest(code)
        voter.code_issued_at = runtime.now_int()
        voter.activation_generation = fresh_generation(voter.activation_generation)
        voter.link_generation = fresh_generation(voter.link_generation)  # random, never 0 (SEC-46)
        for name in ("link_window_start", "links_in_window", "challenge_failures", "challenge_locked_until",
                     "challenge_lock_level", "session_epoch"):
            setattr(voter, name, 0)
        voter.scrutins = [Scrutin(name=name) for name in SCRUTINS]
        s.add(voter)
        rows.append((email, codes.printed(code), numen, DEMO_NIR[identity.key], identity.label))
    s.commit()
    s.close()
    click.echo("\nÉlecteurs de démonstration (mot de passe commun : %s)" % PASSWORD)
    click.echo("Question défi : « %s » — réponse : %s\n" % (QUESTIONS["q1"], ANSWER))
    click.echo(f"{'adresse de connexion':42} {'code de vote':14} {'NUMEN':15} {'n° SS (10)':12} identité FranceConnect")
    for email, code, numen, nir, label in rows:
        click.echo(f"{email:42} {code:14} {numen:15} {nir:12} {label}")
    click.echo("\nLes messages (liens de réassort) s'affichent dans cette console et dans instance/outbox/.")


def register(app: Flask) -> None:
    app.cli.add_command(demo)
