"""What every e-mail carries besides its text: the sender's domain names its Message-ID."""

from __future__ import annotations

from email.utils import parseaddr


def sender_domain(sender: str) -> str:
    """The domain of the sender's address (``Nom <a@vote.example.fr>`` → ``vote.example.fr``), or empty.

    Empty when there is no address, no local part or a domain without a dot: a
    Message-ID under such a name (``@reassort``) marks the mail as suspect to filters.
    """
    address = parseaddr(sender or "")[1]
    local, at, domain = address.rpartition("@")
    domain = domain.strip().lower()
    return domain if at and local and "." in domain.strip(".") else ""
