"""A progress bar on stderr while many tenants are planned.

Shown only when stderr is a terminal and more than one tenant is planned, so CI logs, pipes and
``--format json`` output stay clean.  The bar is rich's; it is thread-safe because the callback is called
from the planning threads (:func:`reconciler.workflow.plan_tenants` ``on_done``).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.workflow import TenantOutcome

OnDone = Callable[["TenantOutcome"], None]


def _is_terminal(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


class _Bar:
    """One rich progress bar counting tenants; stops itself when the last tenant is done."""

    def __init__(self, total: int, stream: Any, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.total = total
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"),
            TimeElapsedColumn(),
            console=Console(file=stream, stderr=stream is sys.stderr),
            transient=True,
        )
        self._task = self._progress.add_task(label, total=total, failed="")
        self._progress.start()
        self._stopped = False

    def __call__(self, outcome: TenantOutcome) -> None:
        with self._lock:
            if self._stopped:
                return
            self.done += 1
            if outcome.error:
                self.failed += 1
            failed = f"[red]{self.failed} failed[/red]" if self.failed else ""
            self._progress.update(self._task, advance=1, failed=failed)
            if self.done >= self.total:
                self._stop_locked()

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._progress.stop()


def progress_callback(total: int, *, stream: Any = None, label: str = "Planning tenants") -> OnDone | None:
    """An ``on_done`` callback drawing a progress bar of ``total`` tenants on ``stream`` (stderr).

    None when ``total`` is below 2 or the stream is not a terminal: then nothing is drawn at all.  The bar
    removes itself once ``total`` tenants are done; use :func:`tenant_progress` when planning may stop
    early (an exception), so the terminal is always restored.
    """
    stream = stream if stream is not None else sys.stderr
    if total < 2 or not _is_terminal(stream):
        return None
    return _Bar(total, stream, label)


@contextmanager
def tenant_progress(
    total: int, *, stream: Any = None, label: str = "Planning tenants"
) -> Iterator[OnDone | None]:
    """:func:`progress_callback` as a context manager that always removes the bar on exit."""
    callback = progress_callback(total, stream=stream, label=label)
    try:
        yield callback
    finally:
        if isinstance(callback, _Bar):
            callback.stop()
