"""The message and the one error every backend raises."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    channel: str  # "email" | "sms"
    to: str
    subject: str
    body: str


class DeliveryError(Exception):
    """The message could not be handed over (server refused, down or too slow)."""
