"""The finding: what posture checks report, plans carry and ``--fail-on`` compares.

Contract: a :class:`Finding` is plain data; the same object is made by :mod:`reconciler.posture`, carried
by a plan, written to and read back from the plan file.  Severities are :mod:`reconciler.posture.severity`'s;
whether findings fail a threshold is :mod:`reconciler.verdicts`'s to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.model import Kind
from reconciler.posture.severity import SEVERITIES, SEVERITY_RANK, Severity, at_or_above

# Decided in reconciler.verdicts; re-exported for the posture package's public surface.
from reconciler.verdicts import failing, fails

Source = Literal["files", "live", "traffic"]


@dataclass(frozen=True)
class Finding:
    """One risk found in a tenant's connectors.

    ``kind``/``name`` are None for tenant-wide findings; ``field`` is the managed field (snake_case, as in
    YAML) to blame so ``validate`` can point at its file:line, or None.  ``skipped_reason`` is set when
    the rule is switched off in YAML for this connector or tenant.  ``source`` says what was checked:
    the connector files (``files``) or the tenant's live connectors (``live``: a connector no file
    declares, or live values that differ from the files) or message trace (``traffic``: an observation
    of mail flow, which never fails a run nor counts as drift; :mod:`reconciler.posture.usage`).
    """

    rule: str
    severity: Severity
    kind: Kind | None
    name: str | None
    message: str
    reference: str = ""
    field: str | None = None
    skipped_reason: str | None = None
    source: Source = "files"

    @property
    def skipped(self) -> bool:
        """True when the rule is switched off for this finding; it is shown but never fails a run."""
        return self.skipped_reason is not None


__all__ = ["SEVERITIES", "SEVERITY_RANK", "Finding", "Severity", "at_or_above", "failing", "fails"]
