"""In-process CLI runs in fake time: ``CliRunner().invoke(cli, args, obj=fake_time())``.

The run's sessions get a :class:`~tests.providers.fake.FakeClock` as clock and sleep (see
:class:`reconciler.cli.common.Wiring`), so retries and backoff wait no real time.  Not for runs against a
server that must time out on real time (a hostile server that drips): their deadlines are on that clock.
"""

from __future__ import annotations

from reconciler.cli.common import Wiring
from reconciler.providers.session import Session
from tests.providers.fake import FakeClock


def fake_time(clock: FakeClock | None = None) -> Wiring:
    """A :class:`Wiring` whose every session measures and waits with ``clock`` (a new one by default)."""
    clock = clock or FakeClock()
    return Wiring(new_session=lambda: Session(clock=clock, sleep=clock.sleep))
