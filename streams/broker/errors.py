"""The one error the broker launcher raises, so the CLI can print one actionable line."""

from __future__ import annotations

from pathlib import Path


class BrokerError(Exception):
    """A broker that cannot be resolved, started or reached, with where to look next."""

    def __init__(self, message: str, *, log_path: Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log_path = log_path

    def one_line(self) -> str:
        """The message a person acts on: what went wrong and, when there is one, the log to read."""
        if self.log_path is None:
            return self.message
        return f"{self.message} (log: {self.log_path})"

    def __str__(self) -> str:
        return self.one_line()
