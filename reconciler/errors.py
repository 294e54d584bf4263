"""Exceptions that reach the user.  Each carries a message fit to print as it is (no traceback needed).

Contract: no message ever contains a secret, a token or a client assertion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A value quoted in a message is cut to this many characters, so a 5,000-digit number or a huge scalar
#: does not flood the terminal or the annotations.
MAX_QUOTED = 80


def quote(value: Any) -> str:
    """``value`` in single quotes for a message, cut when longer than :data:`MAX_QUOTED` characters.

    Values are clipped where they are put into a message, never the finished sentence: an apostrophe
    later in the sentence must not be taken for the end of a quoted value.
    """
    text = str(value)
    if len(text) <= MAX_QUOTED:
        return f"'{text}'"
    return f"'{text[:60]}…{text[-10:]}' ({len(text):,} characters)"


class ExoformError(Exception):
    """Base of every error exoform reports to the user."""


@dataclass(frozen=True)
class Location:
    """A place in a file: 1-based line and column, as editors and GitHub annotations count."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One located problem in the user's input."""

    location: Location
    message: str
    severity: str = "error"
    #: The posture rule that found it (``EXO-...``), or None for invalid input.
    rule: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


class InputError(ExoformError):
    """The user's files are invalid; ``problems`` lists every problem found, each located."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigError(ExoformError):
    """A setting is missing or wrong (for example an ``env:`` reference to an unset variable)."""


class ProviderError(ExoformError):
    """Talking to a tenant failed.  ``tenant`` names it; subclasses say what failed."""

    def __init__(self, tenant: str, message: str) -> None:
        self.tenant = tenant
        super().__init__(f"tenant {tenant}: {message}")


class AuthError(ProviderError):
    """No token could be had, or the service refused it."""


class ReadError(ProviderError):
    """The tenant's connectors could not be read completely.  Never means "no connectors"."""


class WriteError(ProviderError):
    """A create, update or delete failed.  ``service_message`` is the service's own text, when it sent one."""

    def __init__(
        self,
        tenant: str,
        cmdlet: str,
        connector: str,
        message: str,
        *,
        code: str = "",
        exception_type: str = "",
        retryable: bool = False,
    ) -> None:
        self.cmdlet = cmdlet
        self.connector = connector
        self.service_message = message
        self.code = code
        self.exception_type = exception_type
        self.retryable = retryable
        super().__init__(tenant, f"{cmdlet} '{connector}' failed: {message}")


class PlanError(ExoformError):
    """A plan cannot be made or applied as it stands (protected connector, stale plan, tampered file)."""
