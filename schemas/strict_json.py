"""RFC 8259 at the edge: the number tokens pydantic-core's JSON parser accepts but JSON does not have.

pydantic-core (like Python's ``json``) reads ``NaN``, ``Infinity`` and ``-Infinity`` as numbers. They
are not JSON: a JavaScript, Go or Java client cannot write them, and a message carrying one was built
by something that is not a JSON encoder. Without this check such a message reached model validation
and was reported as a schema violation ("a float where an integer belongs"), which sends the sender
looking at the wrong field, and in an ignored extra field it would even have been accepted.

The check is cheap on the normal path: only a message whose bytes contain ``NaN`` or ``Infinity``
somewhere (almost always inside a string) is parsed a second time, by a parser told to refuse them.
"""

from __future__ import annotations

import json
from typing import Final, NoReturn

_MARKERS: Final = (b"NaN", b"Infinity")


class _NonFinite(Exception):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse(token: str) -> NoReturn:
    raise _NonFinite(token)


def non_finite_number(raw: bytes | str) -> str | None:
    """The first ``NaN``/``Infinity``/``-Infinity`` number token of ``raw``, or None if it has none.

    Text that is not JSON for another reason also answers None: callers report that reason themselves.
    """
    data = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
    if not any(marker in data for marker in _MARKERS):
        return None
    try:
        # Decoded as UTF-8 first: json.loads(bytes) would also read UTF-16, UTF-32 and a byte-order mark.
        json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw, parse_constant=_refuse)
    except _NonFinite as found:
        return found.token
    except (ValueError, RecursionError):  # not JSON (or not UTF-8) for another reason
        return None
    return None


def non_finite_message(token: str) -> str:
    return f"{token} is not a JSON number (RFC 8259 has only finite numbers)"
