"""``messages test --to FILE``: deliverability before the poll.

Sends the real réassort message — the same template, subject and sender, with a
link of the same shape that leads nowhere — to a seed list of addresses and mobile
numbers the team owns, through the e-mail and the SMS provider configured, and says
what each provider accepted.  The team then looks in each mailbox (Gmail, Orange,
Yahoo…) for where the message landed: inbox, spam, or nowhere.

The seed file holds one address or number a line (``#`` starts a comment).  A line
that is neither refuses the whole file: nothing is sent.
"""

from __future__ import annotations

import secrets
import signal
import time
from urllib.parse import urlsplit

import click
from flask import Flask
from flask.cli import AppGroup

from reassort import runtime
from reassort.adapters import messaging
from reassort.cli.common import fail, number
from reassort.procedures import links, notices, recovery
from reassort.rules import contacts, tokens
from reassort.web.extensions import db

group = AppGroup("messages", help="Messages envoyés aux électeurs.")

CHANNEL_NAMES = {"email": "courriel", "sms": "SMS"}
DEVELOPMENT_BACKENDS = {"console", "outbox"}


def register(app: Flask) -> None:
    app.cli.add_command(group)


def read_seeds(path: str) -> list[tuple[str, str]]:
    """``[(channel, destination)]`` of the seed file, or the end of the command naming each bad line."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        fail(f"Lecture impossible de {path} : {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{path} n'est pas un fichier texte UTF-8.")
    seeds, errors = [], []
    for n, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if "@" in text:
            address = contacts.parse_email(text)
            if address is None:
                errors.append(f"ligne {n} : adresse électronique invalide")
            else:
                seeds.append(("email", address))
        else:
            mobile = contacts.parse_mobile(text)
            if mobile is None:
                errors.append(f"ligne {n} : ni une adresse électronique ni un numéro de mobile français")
            else:
                seeds.append(("sms", mobile))
    if errors:
        fail("\n".join(errors) + f"\n{number(len(errors))} ligne(s) en erreur dans {path} : rien n'a été envoyé.")
    if not seeds:
        fail(f"Aucune adresse ni aucun numéro dans {path} : rien n'a été envoyé.")
    return seeds


def dead_link() -> str:
    """A link shaped like a real one (same address, path, token length) that opens nothing.

    Signed with a key drawn here and forgotten: no key of the service verifies it,
    and it names voter 0, who does not exist.
    """
    token = tokens.make([secrets.token_urlsafe(32)], tokens.REISSUE, 0, 0, runtime.now())
    return links.url(recovery.LINK_PATH, token)


def provider_name(channel: str) -> str:
    """``smtp (smtp.example.fr:587)``: the backend and where it delivers, never a credential."""
    if channel == "email":
        backend = runtime.setting("MAIL_BACKEND")
        where = f"{runtime.setting('SMTP_HOST')}:{runtime.setting('SMTP_PORT')}" if backend == "smtp" else ""
    else:
        backend = runtime.setting("SMS_BACKEND")
        where = urlsplit(runtime.setting("SMS_HTTP_URL")).netloc if backend == "http" else ""
    return f"{backend} ({where})" if where else backend


def _message(channel: str, destination: str, link: str) -> messaging.Message:
    minutes = max(1, runtime.setting("REISSUE_LINK_MAX_AGE") // 60)
    if channel == "sms":
        return messaging.render_sms("reissue_link", destination, link=link, minutes=minutes)
    return messaging.render_email("reissue_link", destination, link=link, minutes=minutes)


@group.command("test")
@click.option("--to", "seed_path", required=True, metavar="FICHIER",
              help="Adresses et numéros de mobile de l'équipe, un par ligne.")
def test(seed_path: str) -> None:
    """Envoie le vrai message de réassort (lien inerte) à une liste d'adresses et de numéros de l'équipe."""
    seeds = read_seeds(seed_path)
    link = dead_link()
    accepted: dict[str, int] = {}
    refused: dict[str, int] = {}
    for channel in ("email", "sms"):
        destinations = [d for c, d in seeds if c == channel]
        if not destinations:
            continue
        provider = provider_name(channel)
        click.echo(f"{CHANNEL_NAMES[channel]} par {provider} :")
        if provider.split(" ")[0] in DEVELOPMENT_BACKENDS:
            click.echo("  (fournisseur de développement : rien ne part vraiment)")
        send = messaging.send_sms if channel == "sms" else messaging.send_email
        for destination in destinations:
            try:
                send(_message(channel, destination, link))
            except messaging.DeliveryError as exc:
                refused[provider] = refused.get(provider, 0) + 1
                click.echo(f"  {destination} : REFUSÉ — {exc}")
            else:
                accepted[provider] = accepted.get(provider, 0) + 1
                click.echo(f"  {destination} : accepté")
    click.echo("Bilan :")
    for provider in dict.fromkeys([*accepted, *refused]):
        click.echo(f"  {provider} : {number(accepted.get(provider, 0))} accepté(s), "
                   f"{number(refused.get(provider, 0))} refusé(s)")
    click.echo("« Accepté » veut dire remis au fournisseur, pas arrivé : vérifiez chaque boîte (réception, "
               "courrier indésirable) et chaque téléphone.")
    if refused:
        raise SystemExit(1)


@group.command("work")
@click.option("--once", is_flag=True, help="Envoie ce qui est dû puis s'arrête (sinon tourne jusqu'à SIGTERM).")
@click.option("--interval", type=click.FloatRange(0.1, 60), default=1.0, show_default=True,
              help="Secondes entre deux regards sur la file quand elle est vide.")
def work(once: bool, interval: float) -> None:
    """Envoie les avis en attente (« code de vote modifié ») : le service deploy/reassort-messages.service.

    Plusieurs peuvent tourner à la fois (une par VM) : chacun prend des avis que les
    autres sautent (FOR UPDATE SKIP LOCKED). SIGTERM ou Ctrl+C : finit l'avis en cours et s'arrête.
    """
    stopping = {"now": False}

    def _stop(_signum, _frame):
        stopping["now"] = True

    previous = signal.signal(signal.SIGTERM, _stop)
    total_sent = total_failed = 0
    try:
        while not stopping["now"]:
            session = db.new_session()
            try:
                sent, failed = notices.drain(session, stop=lambda: stopping["now"])
            finally:
                session.close()
            total_sent, total_failed = total_sent + sent, total_failed + failed
            if sent or failed:
                click.echo(f"avis envoyés : {number(sent)} ; en échec (réessayés plus tard) : {number(failed)}",
                           err=True)
            if once:
                break
            if not sent:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"Avis envoyés : {number(total_sent)} ; en échec : {number(total_failed)}.")
