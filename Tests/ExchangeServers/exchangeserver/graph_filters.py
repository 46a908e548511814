"""$filter as the Graph server reads it: receivedDateTime comparisons (the only filter Graph's
message delta takes) and internetMessageId equality on message lists."""
from __future__ import annotations

import re

from .store import parse_iso


def _error(status, code, message):
    from .graph import GraphError
    return GraphError(status, code, message)


FILTER = re.compile(r"^\s*receivedDateTime\s+(ge|gt|le|lt)\s+(\S+)\s*$", re.I)


def received_filter(text: str | None):
    """Graph's message delta takes $filter on receivedDateTime only; so does this server."""
    if not text:
        return None
    clauses = re.split(r"\s+and\s+", text, flags=re.I)
    tests = []
    for clause in clauses:
        m = FILTER.match(clause)
        if not m:
            raise _error(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
        op, when = m.group(1).lower(), parse_iso(m.group(2).strip("'"))
        tests.append((op, when))

    def accept(item):
        for op, when in tests:
            t = item.received
            if not {"ge": t >= when, "gt": t > when, "le": t <= when, "lt": t < when}[op]:
                return False
        return True
    return accept


MESSAGE_ID_FILTER = re.compile(r"^\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)


def message_filter(text: str | None):
    """A message list's $filter: receivedDateTime comparisons, or internetMessageId eq '<…>' (how
    a client finds the Sent Items copy of a message it sent)."""
    m = MESSAGE_ID_FILTER.match(text or "")
    if m:
        wanted = m.group(1).replace("''", "'")
        return lambda item: item.header("Message-ID").strip() == wanted
    return received_filter(text)
