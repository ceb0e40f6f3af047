"""Development/test backend: one JSON file per message in ``OUTBOX_DIR``.

File format (SPEC §4): ``{"channel", "to", "subject", "body"}``.  Names sort in
the order messages were written.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict


def send(message, config) -> None:
    folder = config["OUTBOX_DIR"]
    os.makedirs(folder, exist_ok=True)
    name = f"{time.time_ns():020d}-{message.channel}-{secrets.token_hex(4)}.json"
    tmp = os.path.join(folder, "." + name)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(asdict(message), fh, ensure_ascii=False, indent=1)
    os.replace(tmp, os.path.join(folder, name))


def read_all(folder: str) -> list[dict]:
    """Every message in the outbox, oldest first (tests, demo)."""
    if not os.path.isdir(folder):
        return []
    messages = []
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith(".")):
        with open(os.path.join(folder, name), encoding="utf-8") as fh:
            messages.append(json.load(fh))
    return messages
