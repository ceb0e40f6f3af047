"""Development backend: print the message on the console (never in production)."""

import sys


def send(message, config) -> None:
    out = sys.stdout
    out.write(f"\n----- {message.channel.upper()} à {message.to} -----\n")
    if message.subject:
        out.write(f"Objet : {message.subject}\n")
    out.write(message.body.rstrip() + "\n----- fin du message -----\n")
    out.flush()
