"""Development backend: print the message on the console and keep it in the outbox.

SPEC §3: in the demo, messages are "printed and kept in a local outbox", so the
link of a réassort can be copied from the terminal or read from ``OUTBOX_DIR``.
Production refuses this backend.
"""

import sys

from reassort.adapters.messaging import outbox


def send(message, config) -> None:
    out = sys.stdout
    out.write(f"\n----- {message.channel.upper()} à {message.to} -----\n")
    if message.subject:
        out.write(f"Objet : {message.subject}\n")
    out.write(message.body.rstrip() + "\n----- fin du message -----\n")
    out.flush()
    outbox.send(message, config)
