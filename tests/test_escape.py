"""Escaping untrusted text: one line, no control character, never a workflow command, inert Markdown."""

from __future__ import annotations

from reconciler.escape import markdown, safe, safe_lines


def test_control_characters_and_newlines_are_escaped() -> None:
    assert safe("a\nb\r\tc\x1b[31m\x00\x7f\x85\u2028") == "a\\nb\\r\\tc\\x1b[31m\\x00\\x7f\\x85\\u2028"
    assert safe("Printer relay") == "Printer relay"
    assert safe("Zürich ✓") == "Zürich ✓"


def test_untrusted_text_never_starts_a_workflow_command() -> None:
    assert safe("::error::x") == "\\x3a:error::x"
    assert safe("  ::stop-commands::tok") == "  \\x3a:stop-commands::tok"
    assert safe("a::b") == "a::b"
    assert safe_lines("tenant t: cannot plan:\n::error::x") == "tenant t: cannot plan:\n\\x3a:error::x"


def test_markdown_is_inert() -> None:
    text = markdown("<img src=x> | `code` *b* _i_ [l](u) @team \\ ~s~ #1 &amp;\n::x")
    for raw in ("<", ">", "|", "`", "*", "_", "[", "]", "@", "~", " #1", "\n"):
        assert raw not in text
    assert text.startswith("&lt;img src=x&gt; &#124; &#96;code&#96;")
    assert "&amp;amp;" in text
