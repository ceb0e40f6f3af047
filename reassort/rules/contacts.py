"""The destination a voter types for réassort: French mobile or personal e-mail.

Used for one send and never kept (SEC-20): these functions validate, normalise
and mask; nothing here writes anything.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# Metropolitan France and the overseas territories with French mobile numbers.
FRENCH_REGIONS = ("FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "WF", "PF", "NC")
MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def parse_mobile(text: str) -> str | None:
    """E.164 form of a French mobile number (overseas included), else ``None``."""
    text = (text or "").strip()
    if not text or len(text) > 32:
        return None
    for region in FRENCH_REGIONS:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        if (phonenumbers.is_valid_number(number)
                and phonenumbers.region_code_for_number(number) in FRENCH_REGIONS
                and phonenumbers.number_type(number) in MOBILE_TYPES):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def mask_mobile(e164: str) -> str:
    """``06 •• •• •• 78``: the national form with only its first and last pairs shown."""
    number = phonenumbers.parse(e164)
    national = "".join(c for c in phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
                       if c.isdigit())
    pairs = [national[i:i + 2] for i in range(0, len(national), 2)]
    return " ".join([pairs[0]] + ["••"] * (len(pairs) - 2) + [pairs[-1]])


def parse_email(text: str) -> str | None:
    """The normalised address if its syntax is valid, else ``None`` (no DNS look-up)."""
    try:
        return validate_email((text or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def same_mailbox(a: str, b: str) -> bool:
    """Whether two addresses reach the same mailbox: case, dots and ``+tags`` ignored."""
    def key(address: str) -> tuple[str, str]:
        local, _, domain = address.strip().casefold().rpartition("@")
        return local.split("+", 1)[0].replace(".", ""), domain
    return key(a) == key(b)


def mask_email(address: str) -> str:
    """``j•••@example.org``."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}"
