"""How hard to try: the retry limits shared by sign-in and API calls, and the ``Retry-After`` header.

:class:`RetryPolicy` bounds attempts and total time and gives the backoff; :func:`retry_policy` builds a
tenant's from ``retry_max_attempts`` / ``retry_max_seconds`` of exoform.yaml; :func:`controller` is the
tenacity controller both use; :func:`parse_retry_after` reads the header in both of its forms.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)
from tenacity.stop import stop_base

from reconciler.desired.config import TenantConfig


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: bounded attempts and total time, exponential backoff with jitter.

    ``retry_after_cap`` bounds how long a ``Retry-After`` header may make us wait; ``timeout`` is the HTTP
    timeout of each read of one request and ``deadline`` the total time one request (one attempt) may take
    from sending to the last byte of the response, however the bytes trickle in (connector cmdlets are
    quick; docs/reliability.md).
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_total: float = 180.0
    retry_after_cap: float = 60.0
    timeout: float = 120.0
    deadline: float = 120.0
    #: Seconds from an arbitrary start (time limits are measured with it) and how to wait; tests inject a
    #: fake pair so no test waits for real backoff.
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based): exponential, jittered."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def retry_policy(settings: TenantConfig, base: RetryPolicy | None = None, **overrides: float) -> RetryPolicy:
    """The tenant's :class:`RetryPolicy`: ``retry_max_attempts`` and ``retry_max_seconds`` of exoform.yaml
    (bounds on attempts per call and on the total time one call may spend retrying), the rest from
    ``base`` (its clock and sleep included) or ``overrides``."""
    values: dict[str, Any] = {
        "max_attempts": settings.retry_max_attempts,
        "max_total": float(settings.retry_max_seconds),
    }
    values.update(overrides)
    return dataclasses.replace(base or RetryPolicy(), **values)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


class _PastDeadline(stop_base):
    """Stop when ``clock()`` has reached ``deadline`` or, with ``count_wait``, when the coming wait would end
    at or after it (tenacity's own time limit reads the real clock; this one reads the policy's)."""

    def __init__(self, clock: Callable[[], float], deadline: float, *, count_wait: bool) -> None:
        self.clock = clock
        self.deadline = deadline
        self.count_wait = count_wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        wait = retry_state.upcoming_sleep if self.count_wait else 0.0
        return self.clock() + wait >= self.deadline


def log_retries(log: logging.Logger, tenant: str) -> Callable[[RetryCallState], None]:
    """A ``before_sleep`` hook for :func:`controller`: each retry of one of ``tenant``'s API calls as a
    debug line of ``log`` (the attempt, why it failed, the wait)."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.debug(
            "tenant %s: attempt %d failed (%s); retrying in %.2f s",
            tenant,
            state.attempt_number,
            exc,
            state.upcoming_sleep,
        )

    return before_sleep


def controller(
    policy: RetryPolicy,
    retryable: Callable[[BaseException], bool],
    before_sleep: Callable[[RetryCallState], None],
    *,
    last_attempt_at_deadline: bool,
) -> Retrying:
    """A tenacity controller for ``policy``: retries the exceptions ``retryable`` accepts, at most
    ``max_attempts`` attempts and ``max_total`` seconds from now, and re-raises the last one.

    The wait is the exception's ``retry_after`` (seconds, capped at ``retry_after_cap``) when it has one,
    else the policy's backoff.  A wait that would pass the time limit is shortened to end at it, and one
    last attempt follows, when ``last_attempt_at_deadline`` (API calls); otherwise it is not started and
    the last failure is re-raised at once (sign-in).  ``before_sleep`` sees each retry (for logging).
    """
    clock = policy.clock
    deadline = clock() + policy.max_total

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        delay = policy.backoff(state.attempt_number)
        after = getattr(exc, "retry_after", None)
        if isinstance(after, int | float):
            delay = min(float(after), policy.retry_after_cap)
        if last_attempt_at_deadline:
            return max(0.0, min(delay, deadline - clock()))
        return delay

    stop = stop_after_attempt(policy.max_attempts) | _PastDeadline(
        clock, deadline, count_wait=not last_attempt_at_deadline
    )
    return Retrying(
        stop=stop,
        wait=wait,
        sleep=policy.sleep,
        retry=retry_if_exception(retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
