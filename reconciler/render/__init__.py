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

from reconciler.escape import json_text
from reconciler.plan import Plan
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text


@dataclass(frozen=True)
class Options:
    """How to render: ANSI colour, the ``--fail-on`` threshold (drift), the commit to name (Markdown),
    GitHub Actions annotations (validate text), a banner to put first (``show`` of an unverified plan)."""

    color: bool = False
    fail_on: str = "error"
    commit: str | None = None
    annotate: bool = False
    banner: str | None = None


def render_json(plan: Plan) -> str:
    """The JSON plan, as ``--format json`` prints it and the plan file stores it (without digest)."""
    return json_text(plan.to_json())


def _plan_sarif(located: Any, opts: Options) -> str:
    from reconciler import __version__
    from reconciler.render.sarif import posture_rules, sarif_log

    return json_text(sarif_log(located, posture_rules(), version=__version__))


def _drift(fmt: str) -> Callable[[Any, Options], str]:
    def draw(plan: Any, opts: Options) -> str:
        from reconciler.render import drift

        if fmt == "json":
            return json_text(drift.drift_json(plan, fail_on=opts.fail_on))
        if fmt == "markdown":
            return drift.drift_markdown(plan, fail_on=opts.fail_on)
        return drift.drift_text(plan, color=opts.color, fail_on=opts.fail_on)

    return draw


def _status(fmt: str) -> Callable[[Any, Options], str]:
    def draw(doc: Any, opts: Options) -> str:
        from reconciler.render.status import status_text

        return json_text(doc.model_dump(mode="json")) if fmt == "json" else status_text(doc, color=opts.color)

    return draw


def _validate(fmt: str) -> Callable[[Any, Options], str]:
    def draw(report: Any, opts: Options) -> str:
        from reconciler.render import validate

        if fmt == "json":
            return validate.validate_json(report)
        if fmt == "sarif":
            return validate.validate_sarif(report)
        return validate.validate_text(report, annotate=opts.annotate)

    return draw


_RENDERERS: dict[str, dict[str, Callable[[Any, Options], str]]] = {
    "plan": {
        "text": lambda plan, o: render_text(plan, color=o.color, banner=o.banner),
        "json": lambda plan, o: render_json(plan),
        "markdown": lambda plan, o: render_markdown(plan, commit=o.commit, banner=o.banner),
        "sarif": _plan_sarif,
    },
    "drift": {fmt: _drift(fmt) for fmt in ("text", "json", "markdown")},
    "status": {fmt: _status(fmt) for fmt in ("text", "json")},
    "validate": {fmt: _validate(fmt) for fmt in ("text", "json", "sarif")},
}
#: The formats of each report.
FORMATS: dict[str, tuple[str, ...]] = {report: tuple(table) for report, table in _RENDERERS.items()}


def render(report: str, fmt: str, data: Any, options: Options | None = None) -> str:
    """``data`` of ``report`` in ``fmt`` (one of ``FORMATS[report]``), ending in a newline."""
    return _RENDERERS[report][fmt](data, options or Options())


__all__ = ["FORMATS", "Options", "render", "render_json", "render_markdown", "render_text"]
