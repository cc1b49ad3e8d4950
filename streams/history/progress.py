"""Progress of a long read, for a person watching: one line that updates, or a few plain lines.

On a terminal the line is rewritten in place (carriage return, erase to the end of line) at most five
times a second and erased at the end, so the summary that follows stands alone. Into a file or a pipe
(a CI log, ``2> replay.log``) there is no terminal to rewrite: a plain line is written at most every
``plain_every_s`` seconds, so a short read writes none and a long one a handful. The caller prints
the one summary line itself.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Final, TextIO

_TTY_EVERY_S: Final = 0.2
_ERASE: Final = "\r\x1b[K"


class Progress:
    def __init__(
        self,
        describe: Callable[[int], str],
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        plain_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._describe = describe
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty
        self._every = _TTY_EVERY_S if self._tty else plain_every_s
        self._clock = clock
        self._last = clock()
        self._shown = False

    def update(self, done: int) -> None:
        """``done`` units so far; shown only if enough time passed since the last line."""
        now = self._clock()
        if now - self._last < self._every:
            return
        self._last = now
        text = f"… {self._describe(done)}"
        if self._tty:
            self._stream.write(f"{_ERASE}{text}")
        else:
            self._stream.write(f"{text}\n")
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        """Erase the terminal line (nothing to do for plain lines)."""
        if self._tty and self._shown:
            self._stream.write(_ERASE)
            self._stream.flush()
        self._shown = False
