"""Untrusted text made safe for a terminal, a CI log and a Markdown comment.

Untrusted text is anything a pull request or the service controls: connector and tenant names, YAML keys,
file names, service messages, values.  Printed raw, a control character could move the cursor or recolour
a terminal, and a newline followed by ``::`` would be a GitHub Actions workflow command (``::error``,
``::stop-commands::``) in a CI log.

Contracts:
- :func:`safe` escapes every control character (C0, DEL, C1, and the Unicode line and paragraph
  separators): ``\\n`` -> ``\\\\n``, ``\\t`` -> ``\\\\t``, ``\\r`` -> ``\\\\r``, others as ``\\\\xNN`` or
  ``\\\\uNNNN``; the result is one line, and when it starts (after blanks) with ``::`` the first colon is
  escaped as ``\\\\x3a``, so it can never start a workflow command wherever it is printed.
- :func:`safe_lines` does the same for each line of a multi-line message exoform composed itself.
- :func:`markdown` also makes the text inert in GitHub Markdown: HTML and the Markdown characters that
  could format, link, mention or break a table are written as character references.
- :func:`json_text` writes a JSON document ASCII-only: every control character and every non-ASCII one in
  a string is a ``\\uNNNN`` escape, so no JSON exoform prints holds a raw control character.
"""

from __future__ import annotations

import json
import re
from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_COMMAND = re.compile(r"^(\s*):")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN = re.compile(r"[&<>|`*_\[\]\\~#@]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """``text`` as one line that is safe in a terminal and a CI log (see the module contract)."""
    text = _CONTROL.sub(_escape, text)
    if text.lstrip().startswith("::"):
        text = _COMMAND.sub(r"\1\\x3a", text, count=1)
    return text


def safe_lines(text: str) -> str:
    """Each line of a message exoform composed (its newlines kept) made safe like :func:`safe`."""
    return "\n".join(safe(line) for line in text.split("\n"))


def markdown(text: str) -> str:
    """``text`` safe and literal in GitHub Markdown, also inside a table cell or ``<code>``."""
    return _MARKDOWN.sub(lambda m: _ENTITIES.get(m.group(), f"&#{ord(m.group())};"), safe(text))


def json_text(data: Any) -> str:
    """``data`` as a JSON document (keys sorted, indented, ASCII-only), ending in a newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
