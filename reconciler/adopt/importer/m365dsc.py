"""Microsoft365DSC configuration scripts -> found connector objects, without running PowerShell.

Reads every ``EXOInboundConnector "label" { Key = value ... }`` and ``EXOOutboundConnector`` block of a
``.ps1`` configuration (the rest of the script is tokenized, to skip comments and strings, and otherwise
ignored).  Values (docs/import.md, "Microsoft365DSC"):

- ``'...'`` (``''`` is a quote), ``"..."`` with PowerShell's backtick escapes and ``$name`` / ``${name}`` /
  ``$(...)`` inside, here-strings ``@"...``/``@'...'``; ``$true``, ``$false``, ``$null``; numbers;
  ``@(...)`` arrays (items separated by commas, newlines or semicolons) and ``a, b`` lists; a type cast
  ``[string[]]`` before a value is skipped.
- ``$OrganizationName``, ``$ConfigurationData.NonNodeData.X`` and other references take the value given with
  ``--var NAME=VALUE`` (NAME without ``$``, case-insensitive); otherwise the property is dropped and
  reported as unresolved (the connector is skipped when its ``Identity`` is unresolved).
- A block's label is a string, a bare word or an unquoted GUID (early exports), or a variable.
- ``Identity`` is the connector's name.  ``Ensure = "Absent"`` blocks are reported and skipped; DSC's own
  settings (:data:`reconciler.adopt.importer.DSC_SETTINGS`: credentials, ``DependsOn``) are ignored, never
  reported as unresolved whatever they refer to.

Contract: anything in a block that is not ``Key = value`` with a value of the forms above (a command, an
operator, a hashtable) is a located problem ``file:line:col``, as is an unterminated string or comment
anywhere in the file; the file then yields no connectors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.adopt.importer import DSC_SETTINGS, Found, Unresolved
from reconciler.errors import Location, Problem
from reconciler.model import Kind

RESOURCES: dict[str, Kind] = {
    "exoinboundconnector": "InboundConnector",
    "exooutboundconnector": "OutboundConnector",
}
_BACKTICK = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_WORD = re.compile(r"[A-Za-z_][\w\-.]*")
#: An unquoted GUID, as early Microsoft365DSC exports label blocks (``EXOInboundConnector 6f1c...-... {``).
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w\-.])")
_NUMBER = re.compile(r"\d+(?![\w.])")
_VARIABLE = re.compile(r"\$(?:\{[^{}]*\}|[A-Za-z_?][\w]*(?::[A-Za-z_]\w*)?)(?:\.[A-Za-z_]\w*)*")
_IN_STRING_VARIABLE = re.compile(r"\$(?:\{[^{}]*\}|[A-Za-z_?][\w]*(?::[A-Za-z_]\w*)?)")


class DscSyntaxError(Exception):
    """What cannot be read, at 1-based (line, column)."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


@dataclass(frozen=True)
class Token:
    kind: str  # word, var, string, number, punct, newline, subexpr, other
    text: str
    line: int
    column: int
    #: For strings: the literal and reference parts (references as Unresolved).
    parts: tuple[str | Unresolved, ...] = ()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        #: Where :meth:`_pos` last counted to: an index, its line and the index its line starts at.
        self.counted = (0, 1, 0)
        self.tokens: list[Token] = []

    def _pos(self, index: int) -> tuple[int, int]:
        """1-based (line, column) of ``index``.  Tokens come in order, so lines are counted on from the
        previous call: counting from the start each time made lexing quadratic in the file's length."""
        start, line, line_start = self.counted
        if index < start:
            start, line, line_start = 0, 1, 0
        newlines = self.text.count("\n", start, index)
        if newlines:
            line += newlines
            line_start = self.text.rfind("\n", start, index) + 1
        self.counted = (index, line, line_start)
        return line, index - line_start + 1

    def error(self, index: int, message: str) -> DscSyntaxError:
        return DscSyntaxError(*self._pos(index), message)

    def add(self, kind: str, start: int, end: int, parts: tuple[str | Unresolved, ...] = ()) -> None:
        self.tokens.append(Token(kind, self.text[start:end], *self._pos(start), parts))
        self.i = end

    def run(self) -> list[Token]:
        text = self.text
        while self.i < len(text):
            ch, start = text[self.i], self.i
            two = text[self.i : self.i + 2]
            if ch in " \t\r\ufeff":
                self.i += 1
            elif ch == "`" and text[self.i + 1 : self.i + 2] in ("\n", "\r"):
                end = text.find("\n", self.i)  # a line continuation
                self.i = len(text) if end < 0 else end + 1
            elif ch == "\n":
                self.add("newline", start, start + 1)
            elif two == "<#":
                end = text.find("#>", start + 2)
                if end < 0:
                    raise self.error(start, "unterminated block comment '<#'")
                self.i = end + 2
            elif ch == "#":
                end = text.find("\n", start)
                self.i = len(text) if end < 0 else end
            elif two in ('@"', "@'") and text[start + 2 : start + 3] in ("\n", "\r"):
                self._here_string(start, two[1])
            elif ch == "'" or ch in "\u2018\u2019":
                self._single(start)
            elif ch == '"' or ch in "\u201c\u201d":
                self._double(start)
            elif two == "$(":
                end = self._balanced(start + 1)
                self.add("subexpr", start, end)
            elif ch == "$":
                match = _VARIABLE.match(text, start)
                if match is None:
                    self.add("other", start, start + 1)
                else:
                    self.add("var", start, match.end())
            elif two in ("@(", "@{"):
                self.add("punct", start, start + 2)
            elif ch in "{}()=,;[]":
                self.add("punct", start, start + 1)
            elif (guid := _GUID.match(text, start)) is not None:
                self.add("word", start, guid.end())
            elif (number := _NUMBER.match(text, start)) is not None:
                self.add("number", start, number.end())
            elif (word := _WORD.match(text, start)) is not None:
                self.add("word", start, word.end())
            else:
                self.add("other", start, start + 1)
        return self.tokens

    def _balanced(self, open_index: int) -> int:
        """The index after the ``)`` matching the ``(`` at ``open_index`` (strings inside are skipped)."""
        depth, i, text = 0, open_index, self.text
        while i < len(text):
            ch = text[i]
            if ch in "'\"":
                close = text.find(ch, i + 1)
                if close < 0:
                    break
                i = close
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise self.error(open_index - 1, "unterminated subexpression '$('")

    def _single(self, start: int) -> None:
        text, i, out = self.text, start + 1, []
        while i < len(text):
            ch = text[i]
            if ch in "'\u2018\u2019":
                if text[i + 1 : i + 2] in ("'", "\u2018", "\u2019"):
                    out.append("'")
                    i += 2
                    continue
                self.add("string", start, i + 1, ("".join(out),))
                return
            out.append(ch)
            i += 1
        raise self.error(start, "unterminated string")

    def _double(self, start: int) -> None:
        end, parts = self._expand(start, lambda i: self.text[i] in '"\u201c\u201d', doubled=True)
        self.add("string", start, end + 1, parts)

    def _here_string(self, start: int, quote: str) -> None:
        newline = self.text.find("\n", start)
        if newline < 0:
            raise self.error(start, f"unterminated here-string '@{quote}'")
        body = newline + 1
        closing = re.compile(r"^[ \t]*" + re.escape(quote) + "@", re.MULTILINE)
        match = closing.search(self.text, body)
        if match is None:
            raise self.error(start, f"unterminated here-string '@{quote}'")
        content_end = max(body, match.start() - 1)
        if self.text[content_end - 1 : content_end] == "\r":
            content_end -= 1
        if quote == "'":
            parts: tuple[str | Unresolved, ...] = (self.text[body:content_end],)
        else:
            _, parts = self._expand(start, lambda i: i >= content_end, doubled=False, body=body)
        self.add("string", start, match.end(), parts)

    def _expand(
        self, start: int, at_end: Any, *, doubled: bool, body: int | None = None
    ) -> tuple[int, tuple[str | Unresolved, ...]]:
        """Read the expandable string opened at ``start`` (its text from ``body``, default the next
        character) to where ``at_end`` says: (index of the end, parts)."""
        text = self.text
        i = start + 1 if body is None else body
        parts: list[str | Unresolved] = []
        literal: list[str] = []
        while i < len(text):
            if at_end(i):
                if doubled and text[i + 1 : i + 2] == '"':
                    literal.append('"')
                    i += 2
                    continue
                break
            ch = text[i]
            if ch == "`" and i + 1 < len(text):
                literal.append(_BACKTICK.get(text[i + 1], text[i + 1]))
                i += 2
            elif text.startswith("$(", i):
                end = self._balanced(i + 1)
                parts.extend(["".join(literal), Unresolved(text[i:end])])
                literal, i = [], end
            elif ch == "$" and (match := _IN_STRING_VARIABLE.match(text, i)) is not None:
                parts.extend(["".join(literal), Unresolved(match.group())])
                literal, i = [], match.end()
            else:
                literal.append(ch)
                i += 1
        else:
            raise self.error(start, "unterminated string")
        parts.append("".join(literal))
        return i, tuple(p for p in parts if p != "")


def _reference_name(reference: str) -> str:
    """``$OrganizationName`` -> ``organizationname``; ``$($a.b)`` -> ``a.b``; ``${x}`` -> ``x``."""
    name = reference
    if name.startswith("$(") and name.endswith(")"):
        name = name[2:-1].strip()
    name = name.lstrip("$")
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    return name.lower()


class _Resolver:
    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = {k.lstrip("$").lower(): v for k, v in variables.items()}

    def reference(self, reference: str) -> Any:
        lowered = reference.lower()
        if lowered in ("$true", "$false"):
            return lowered == "$true"
        if lowered == "$null":
            return None
        value = self.variables.get(_reference_name(reference))
        return Unresolved(reference) if value is None else value

    def string(self, parts: tuple[str | Unresolved, ...]) -> str | Unresolved:
        out: list[str] = []
        missing: list[str] = []
        for part in parts:
            if isinstance(part, Unresolved):
                value = self.reference(part.reference)
                if isinstance(value, Unresolved):
                    missing.append(part.reference)
                else:
                    out.append("" if value is None else str(value))
            else:
                out.append(part)
        return Unresolved(", ".join(missing)) if missing else "".join(out)


class _Parser:
    def __init__(self, tokens: list[Token], resolver: _Resolver, display: str) -> None:
        self.tokens = tokens
        self.i = 0
        self.resolver = resolver
        self.display = display

    def peek(self, skip_newlines: bool = False) -> Token | None:
        i = self.i
        while skip_newlines and i < len(self.tokens) and self.tokens[i].kind == "newline":
            i += 1
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, skip_newlines: bool = False) -> Token | None:
        if skip_newlines:
            while self.i < len(self.tokens) and self.tokens[self.i].kind == "newline":
                self.i += 1
        token = self.peek()
        if token is not None:
            self.i += 1
        return token

    def fail(self, token: Token | None, message: str) -> DscSyntaxError:
        if token is None:
            last = self.tokens[-1] if self.tokens else Token("newline", "", 1, 1)
            return DscSyntaxError(last.line, last.column, message + " (the file ends here)")
        return DscSyntaxError(token.line, token.column, message)

    def blocks(self) -> list[Found]:
        """Every resource block: the keyword starting a statement (an argument such as
        ``Import-DscResource -Name EXOInboundConnector`` is not a block)."""
        found: list[Found] = []
        previous: Token | None = None
        while (token := self.take()) is not None:
            starts = previous is None or previous.kind == "newline" or previous.text in ("{", "}", ";")
            if starts and token.kind == "word" and token.text.lower() in RESOURCES:
                found.append(self.block(token, RESOURCES[token.text.lower()]))
                previous = self.tokens[self.i - 1]
                continue
            previous = token
        return found

    def block(self, keyword: Token, kind: Kind) -> Found:
        label = self.take()
        if label is None or label.kind not in ("string", "word", "var", "subexpr"):
            raise self.fail(label, f"expected the name of the {keyword.text} block after '{keyword.text}'")
        opening = self.take(skip_newlines=True)
        if opening is None or opening.text != "{":
            raise self.fail(opening, f"expected '{{' to open the {keyword.text} block")
        where = f"{self.display}:{keyword.line}:{keyword.column}"
        props: dict[str, Any] = {}
        seen: dict[str, Token] = {}
        while True:
            token = self.take(skip_newlines=True)
            if token is None:
                raise self.fail(
                    token, f"the {keyword.text} block opened at line {opening.line} is not closed"
                )
            if token.text == ";":
                continue
            if token.text == "}":
                break
            if token.kind != "word":
                raise self.fail(token, f"expected a property name, got {token.text[:40]!r}")
            if token.text.lower() in seen:
                raise self.fail(
                    token,
                    f"'{token.text}' is set twice (first at line {seen[token.text.lower()].line})",
                )
            seen[token.text.lower()] = token
            equals = self.take()
            if equals is None or equals.text != "=":
                raise self.fail(equals, f"expected '=' after '{token.text}'")
            props[token.text] = self.value_list()
            after = self.peek()
            if after is not None and after.kind != "newline" and after.text not in (";", "}"):
                raise self.fail(after, f"unexpected {after.text[:40]!r} after the value of '{token.text}'")
        return self._found(props, where, kind)

    def _found(self, props: dict[str, Any], where: str, kind: Kind) -> Found:
        dropped: list[str] = []
        values: dict[str, Any] = {}
        for key, value in props.items():
            if key.lower() in DSC_SETTINGS and key.lower() != "ensure":
                continue  # how DSC signs in: never part of a connector, whatever it refers to
            missing = _unresolved(value)
            if missing:
                hint = ", ".join(f"--var {m.lstrip('$').strip('{}')}=VALUE" for m in missing)
                if any(m.startswith("$(") for m in missing):
                    hint = "a PowerShell expression exoform does not run; put the value in the file"
                dropped.append(
                    f"{key}: refers to {', '.join(missing)}, which the file does not define ({hint})"
                )
                continue
            values[key] = value
        ensure = next((v for k, v in values.items() if k.lower() == "ensure"), None)
        skip = None
        if isinstance(ensure, str) and ensure.lower() == "absent":
            skip = (
                'Ensure = "Absent": the configuration removes this connector; a file would declare it, so '
                "it is not imported (a connector no file declares is unmanaged; see unmanaged: delete)"
            )
        return Found(values, where, kind, skip=skip, dropped=dropped)

    def value_list(self) -> Any:
        first = self.value()
        if (token := self.peek()) is None or token.text != ",":
            return first
        items = [first]
        while (token := self.peek()) is not None and token.text == ",":
            self.take()
            items.append(self.value(skip_newlines=True))
        return items

    def value(self, skip_newlines: bool = False) -> Any:
        token = self.take(skip_newlines=skip_newlines)
        while token is not None and token.text == "[":  # a type cast: [string[]]@(...)
            depth = 1
            while depth and (token := self.take()) is not None:
                depth += {"[": 1, "]": -1}.get(token.text, 0)
            token = self.take()
        if token is None:
            raise self.fail(token, "expected a value")
        if token.kind == "string":
            return self.resolver.string(token.parts)
        if token.kind in ("var", "subexpr"):
            return self.resolver.reference(token.text)
        if token.kind == "number":
            return int(token.text)
        if token.text == "@(":
            return self.array(token)
        if token.text == "@{":
            raise self.fail(token, "a hashtable is not a value of a connector property")
        raise self.fail(
            token,
            f"cannot read {token.text[:40]!r} as a value without running PowerShell (expected a string, "
            "$true/$false, a number, @(...) or a $variable)",
        )

    def array(self, opening: Token) -> list[Any]:
        items: list[Any] = []
        while True:
            token = self.peek(skip_newlines=True)
            if token is None or token.text == "}":
                raise self.fail(token, f"the array opened at line {opening.line} is not closed")
            if token.text == ")":
                self.take(skip_newlines=True)
                return items
            if token.text in (",", ";"):
                self.take(skip_newlines=True)
                continue
            item = self.value(skip_newlines=True)
            items.extend(item if isinstance(item, list) else [item])


def _unresolved(value: Any) -> list[str]:
    if isinstance(value, Unresolved):
        return [value.reference]
    if isinstance(value, list):
        return [r for v in value for r in _unresolved(v)]
    return []


def read(text: str, display: str, variables: Mapping[str, str]) -> tuple[list[Found], list[Problem]]:
    """Every EXOInboundConnector / EXOOutboundConnector block of a configuration script."""
    try:
        tokens = _Lexer(text).run()
        return _Parser(tokens, _Resolver(variables), display).blocks(), []
    except DscSyntaxError as exc:
        return [], [Problem(Location(display, exc.line, exc.column), exc.message)]
