"""``env:NAME`` references: how exoform.yaml names a secret (or any value) kept in the environment.

Contracts:
- A secret is never written in the file: secret-bearing settings are :data:`SecretRef` (``env:NAME``
  only); :data:`LiteralOrEnv` settings take a literal or a reference.
- :func:`resolve_secret` and :func:`resolve_value` read a reference only when it is needed and raise
  :class:`ConfigError` naming the variable (never its value) when it is unset.
"""

from __future__ import annotations

import os
import re
from typing import Annotated

from pydantic import AfterValidator

from reconciler.errors import ConfigError

ENV_PREFIX = "env:"

_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_reference(value: str) -> str:
    # Neither message quotes the value: text after env: that is not a variable name is likely the secret.
    if not value.startswith(ENV_PREFIX) or len(value) == len(ENV_PREFIX):
        raise ValueError(
            "a secret is never written in exoform.yaml: use env:NAME to read it from the environment"
        )
    if not _ENV_NAME_RE.fullmatch(value.removeprefix(ENV_PREFIX)):
        raise ValueError(
            "env: must be followed by an environment variable name (letters, digits and _, not starting "
            "with a digit); the value is not shown, in case it is the secret itself"
        )
    return value


def _optional_env_reference(value: str | None) -> str | None:
    return None if value is None else _env_reference(value)


def _literal_or_env_reference(value: str) -> str:
    return _env_reference(value) if value.startswith(ENV_PREFIX) else value


#: A secret: only ever an ``env:NAME`` reference.
SecretRef = Annotated[str, AfterValidator(_env_reference)]
#: An optional secret.
OptionalSecretRef = Annotated[str | None, AfterValidator(_optional_env_reference)]
#: A setting written in the file or read from the environment (``env:NAME``).
LiteralOrEnv = Annotated[str, AfterValidator(_literal_or_env_reference)]


def resolve_secret(reference: str) -> str:
    """The value behind an ``env:NAME`` reference; :class:`ConfigError` when the variable is unset."""
    name = reference.removeprefix(ENV_PREFIX)
    value = os.environ.get(name)
    if value is None or value == "":
        raise ConfigError(f"environment variable {name} is not set (referenced as {reference})")
    return value


def resolve_value(value: str) -> str:
    """``value``, or its variable's value when it is ``env:NAME`` (unset: see :func:`resolve_secret`)."""
    return resolve_secret(value) if value.startswith(ENV_PREFIX) else value
