"""Renderers: pure functions from a report's data to text; none fetches, decides or prints.

:func:`render` is the one registry: it picks the renderer of a report (``plan``, ``drift``, ``status``,
``validate``) in a format (text, JSON, Markdown, SARIF: :data:`FORMATS` says which each has).  The data
is the report's: a :class:`~reconciler.plan.Plan` for ``plan`` and ``drift`` (for ``plan`` in SARIF, its
findings located in the files: a list of :class:`~reconciler.render.sarif.Located`), a
:class:`~reconciler.render.status.StatusDocument` for ``status``, a
:class:`~reconciler.render.validate.ValidateReport` for ``validate``.  JSON documents are dumped by
their one definition (the same that generates ``schemas/``) and written ASCII-only
(:func:`reconciler.escape.json_text`).
Every untrusted text goes through :mod:`reconciler.escape`; a failed tenant is drawn by
:mod:`reconciler.render.failed`; verdicts (drift, failing findings) come from :mod:`reconciler.verdicts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler import __version__
from reconciler.escape import json_text
from reconciler.plan import Plan
from reconciler.render import drift, validate
from reconciler.render.markdown import MAX_CHARS, render_markdown
from reconciler.render.sarif import posture_rules, sarif_log
from reconciler.render.status import status_text
from reconciler.render.text import render_text


@dataclass(frozen=True)
class Options:
    """How to render: ANSI colour, the ``--fail-on`` threshold (drift), the commit to name (Markdown),
    GitHub Actions annotations (validate text), a banner to put first (``show`` of an unverified plan),
    whether the plan's text groups the changes shared by several tenants (``--group``; Markdown always
    does), the Markdown plan's size limit."""

    color: bool = False
    fail_on: str = "error"
    commit: str | None = None
    annotate: bool = False
    banner: str | None = None
    group: bool = False
    max_chars: int = MAX_CHARS


def render_json(plan: Plan) -> str:
    """The JSON plan, as ``--format json`` prints it and the plan file stores it (without digest)."""
    return json_text(plan.to_json())


_RENDERERS: dict[str, dict[str, Callable[[Any, Options], str]]] = {
    "plan": {
        "text": lambda plan, o: render_text(plan, color=o.color, banner=o.banner, group=o.group),
        "json": lambda plan, o: render_json(plan),
        "markdown": lambda plan, o: render_markdown(
            plan, max_chars=o.max_chars, commit=o.commit, banner=o.banner
        ),
        "sarif": lambda located, o: json_text(sarif_log(located, posture_rules(), version=__version__)),
    },
    "drift": {
        "text": lambda plan, o: drift.drift_text(plan, color=o.color, fail_on=o.fail_on),
        "json": lambda plan, o: json_text(drift.drift_json(plan, fail_on=o.fail_on)),
        "markdown": lambda plan, o: drift.drift_markdown(plan, fail_on=o.fail_on),
    },
    "status": {
        "text": lambda doc, o: status_text(doc, color=o.color),
        "json": lambda doc, o: json_text(doc.model_dump(mode="json")),
    },
    "validate": {
        "text": lambda report, o: validate.validate_text(report, annotate=o.annotate),
        "json": lambda report, o: validate.validate_json(report),
        "sarif": lambda report, o: validate.validate_sarif(report),
    },
}
#: The formats of each report.
FORMATS: dict[str, tuple[str, ...]] = {report: tuple(table) for report, table in _RENDERERS.items()}


def render(report: str, fmt: str, data: Any, options: Options | None = None) -> str:
    """``data`` of ``report`` in ``fmt`` (one of ``FORMATS[report]``), ending in a newline."""
    return _RENDERERS[report][fmt](data, options or Options())


__all__ = ["FORMATS", "Options", "render", "render_json", "render_markdown", "render_text"]
