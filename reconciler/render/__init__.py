"""Renderers: pure functions from data to text; none fetches, decides or prints.

The plan (text, JSON, Markdown) here and in ``text``/``markdown``; the drift report in ``drift``; the
status table and validation result in ``status``; colour and tables through rich in ``console``.
"""

from __future__ import annotations

import json

from reconciler.plan import Plan
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

FORMATS = ("text", "json", "markdown")


def render_json(plan: Plan) -> str:
    """The JSON plan, as ``--format json`` prints it and the plan file stores it (without digest)."""
    return json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n"


def render(plan: Plan, fmt: str, *, color: bool = False) -> str:
    """``plan`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    return render_text(plan, color=color)


__all__ = ["FORMATS", "render", "render_json", "render_markdown", "render_text"]
