"""The one table of severities: their names, most severe first, and their rank (higher is more severe).

Contract: ``--fail-on`` thresholds and :func:`at_or_above` compare ranks.  This module imports nothing
heavy, so a command can offer the names as choices without loading the model.
"""

from __future__ import annotations

from typing import Literal, cast

Severity = Literal["error", "warning", "info"]
#: Every severity, most severe first, and its rank.
SEVERITY_RANK: dict[str, int] = {"error": 2, "warning": 1, "info": 0}
SEVERITIES = cast(tuple[Severity, ...], tuple(SEVERITY_RANK))


def at_or_above(severity: str, threshold: str) -> bool:
    """True when ``severity`` is ``threshold`` or more severe.

    Raises ``ValueError`` for a threshold that is not a severity; an unknown ``severity`` counts as error.
    """
    if threshold not in SEVERITY_RANK:
        raise ValueError(f"'{threshold}' is not a severity; use one of {', '.join(SEVERITIES)}")
    return SEVERITY_RANK.get(severity, SEVERITY_RANK["error"]) >= SEVERITY_RANK[threshold]
