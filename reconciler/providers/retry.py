"""How hard to try: the retry limits shared by sign-in and API calls, and the ``Retry-After`` header.

:class:`RetryPolicy` bounds attempts and total time and gives the backoff; :func:`retry_policy` builds a
tenant's from ``retry_max_attempts`` / ``retry_max_seconds`` of exoform.yaml; a :class:`Budget` is the
time one whole operation may take (a listing of every page; a write with its retries and the reads that
verify it); :func:`controller` is the tenacity controller both use; :func:`parse_retry_after` reads the
header in both of its forms.
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

    ``max_attempts`` bounds the attempts of one request; ``max_total`` the time of one whole operation
    (:meth:`budget`).  ``retry_after_cap`` bounds how long a ``Retry-After`` header may make us wait;
    ``timeout`` is the HTTP timeout of each read of one request and ``deadline`` the total time one request
    (one attempt) may take from sending to the last byte of the response, however the bytes trickle in
    (connector cmdlets are quick; docs/reliability.md), and never past the end of its operation.
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

    def budget(self, what: str) -> Budget:
        """The time ``what`` (one whole operation, named for messages) may take from now: ``max_total``."""
        now = self.clock()
        return Budget(self, what, now, now + self.max_total)


@dataclass(frozen=True)
class Budget:
    """The time one operation may take, retries and waits included: ``retry_max_seconds`` from its start.

    An operation is a listing of every page, or a write with its retries and the reads that verify it.
    Each of its requests ends by :attr:`end` (:meth:`request_deadline`), no retry wait is begun that would
    end past it, and a request is not started once it has passed.  ``started`` and ``end`` are values of
    the policy's clock; ``what`` names the operation in messages.
    """

    policy: RetryPolicy
    what: str
    started: float
    end: float

    def left(self) -> float:
        """Seconds left (negative once past the end)."""
        return self.end - self.policy.clock()

    def request_deadline(self) -> float:
        """A request's total deadline as a :func:`time.monotonic` value (what the transport measures with):
        the policy's ``deadline`` from now, or the end of the operation when that comes first."""
        return time.monotonic() + max(0.0, min(self.policy.deadline, self.left()))

    def ran_out(self) -> str:
        """What to tell the user when the time ran out: what stopped, after how long, the setting to raise."""
        spent = self.policy.clock() - self.started
        return (
            f"{self.what} ran out of time after {spent:.1f} s (retry_max_seconds: {self.policy.max_total:g} "
            "s bounds it whole, retries and waits included; raise it in exoform.yaml to allow longer)"
        )


def retry_policy(settings: TenantConfig, base: RetryPolicy | None = None, **overrides: float) -> RetryPolicy:
    """The tenant's :class:`RetryPolicy`: ``retry_max_attempts`` and ``retry_max_seconds`` of exoform.yaml
    (bounds on the attempts of one request and on the time of one whole operation), the rest from
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
    """Stop when the coming wait would end at or after ``deadline`` (tenacity's own time limit reads the
    real clock; this one reads the policy's)."""

    def __init__(self, clock: Callable[[], float], deadline: float) -> None:
        self.clock = clock
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() + retry_state.upcoming_sleep >= self.deadline


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
    budget: Budget | None = None,
) -> Retrying:
    """A tenacity controller for ``policy``: retries the exceptions ``retryable`` accepts, at most
    ``max_attempts`` attempts, until the end of ``budget`` (or ``max_total`` seconds from now), and
    re-raises the last one.

    The wait is the exception's ``retry_after`` (seconds, capped at ``retry_after_cap``) when it has one,
    else the policy's backoff.  A wait that would end at or past the time limit is not begun: the last
    failure is re-raised at once (:func:`out_of_time` tells that case apart).  ``before_sleep`` sees each
    retry (for logging).
    """
    clock = policy.clock
    deadline = budget.end if budget is not None else clock() + policy.max_total

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None)
        if isinstance(after, int | float):
            return min(float(after), policy.retry_after_cap)
        return policy.backoff(state.attempt_number)

    return Retrying(
        stop=stop_after_attempt(policy.max_attempts) | _PastDeadline(clock, deadline),
        wait=wait,
        sleep=policy.sleep,
        retry=retry_if_exception(retryable),
        before_sleep=before_sleep,
        reraise=True,
    )


def out_of_time(retrying: Retrying, policy: RetryPolicy) -> bool:
    """Whether ``retrying`` (a :func:`controller`), having re-raised a retryable failure, stopped because
    the time ran out rather than the attempts."""
    return int(retrying.statistics.get("attempt_number", 1)) < policy.max_attempts
