"""Parsing hostile input: each parser that reads user or PR input, on 64 KiB and 1 MiB of hostile text.

The ratio is time(1 MiB) / time(64 KiB) (best of a few runs each): linear growth is 16; a quadratic
parser gives 256.  On a busy machine single timings scatter, so the detail also gives the growth of the
number of Python function calls, which does not depend on the load (it misses work inside one C call,
such as a regular expression's, which the times show).  Inputs that hit a budget (documents per file,
CLIXML back-references) stop early, so their ratio is near 1: the budget, not the input, bounds the
work.  ``HOSTILE`` holds the inputs; the parsers' tests (tests/desired/test_variables.py,
tests/test_yamlio.py, tests/adopt/importer/test_m365dsc.py, tests/adopt/importer/test_clixml.py) use
them at small sizes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

SMALL, LARGE = 64 << 10, 1 << 20
_NS = 'xmlns="http://schemas.microsoft.com/powershell/2004/04"'


def _fill(unit: str, size: int) -> str:
    return unit * (size // len(unit))


def unclosed_references(size: int) -> str:
    """A connector file whose comment is ``${`` over and over, never closed."""
    head = "kind: InboundConnector\nname: x\ncomment: "
    return head + _fill("${", size - len(head) - 1) + "\n"


def many_references(size: int) -> str:
    """A connector file whose comment is ``${tenant.name}`` over and over (each one substituted)."""
    head = "kind: InboundConnector\nname: x\ncomment: "
    return head + _fill("${tenant.name} ", size - len(head) - 1) + "\n"


def yaml_items(size: int) -> str:
    """A connector file with one long block list."""
    return "kind: InboundConnector\nname: x\nsender_domains:\n" + _fill("- a.example.com\n", size - 48)


def yaml_documents(size: int) -> str:
    """Empty documents, ``---`` after ``---`` (bounded by the reader's documents per file)."""
    return _fill("---\n", size)


def yaml_duplicate_keys(size: int) -> str:
    """The same key over and over: one problem each (bounded by the reader's problems per file)."""
    return _fill("name: x\n", size)


def dsc_plain_lines(size: int) -> str:
    """A PowerShell script of plain command lines and no connector block."""
    return _fill("Write-Host hello world\n", size)


def dsc_unclosed_variables(size: int) -> str:
    """``${`` over and over, never closed, in a script and in a string."""
    half = size // 2
    return _fill("${", half) + '\n"' + _fill("${", half - 3) + '"\n'


def dsc_block_values(size: int) -> str:
    """One connector block with a long array of strings."""
    head = 'EXOInboundConnector "x"\n{\n    Identity = "x"\n    SenderDomains = @(\n'
    return head + _fill("        'a.example.com'\n", size - len(head) - 8) + "    )\n}\n"


def clixml_objects(size: int) -> str:
    """Many small connector objects."""
    one = '<Obj><Props><S N="Name">c</S><S N="Comment">x</S><B N="Enabled">true</B></Props></Obj>'
    return f'<Objs Version="1.1.0.1" {_NS}>' + _fill(one, size - 80) + "</Objs>"


def clixml_references(size: int) -> str:
    """Nested ``<Ref>`` back-references, each level ten times the last (bounded by the expansion budget),
    padded with plain objects to ``size``."""
    objs = ['<Obj RefId="r0"><LST>' + "<S>x</S>" * 10 + "</LST></Obj>"]
    for i in range(1, 12):
        objs.append(f'<Obj RefId="r{i}"><LST>' + f'<Ref RefId="r{i - 1}" />' * 10 + "</LST></Obj>")
    bomb = (
        '<Obj><Props><S N="Name">c</S><Obj N="SenderDomains"><LST>'
        + "".join(objs)
        + "</LST></Obj></Props></Obj>"
    )
    pad = "<Obj><Props><S N='Comment'>x</S></Props></Obj>"
    return f'<Objs Version="1.1.0.1" {_NS}>' + _fill(pad, size - len(bomb) - 80) + bomb + "</Objs>"


def through_variables(text: str) -> Any:
    from reconciler.desired.variables import Binding, Scope, resolve
    from reconciler.yamlio import parse_text

    documents, _ = parse_text(text, "bench.yaml")
    scope = Scope("bench", {"tenant.name": Binding("bench")})
    return [resolve(d.root, scope) for d in documents if d.root is not None]


def through_yaml(text: str) -> Any:
    from reconciler.yamlio import parse_text

    return parse_text(text, "bench.yaml")


def through_dsc(text: str) -> Any:
    from reconciler.adopt.importer import m365dsc

    return m365dsc.read(text, "bench.ps1", {})


def through_clixml(text: str) -> Any:
    from reconciler.adopt.importer import clixml

    return clixml.read(text, "bench.xml", {})


#: name -> (input of a given size in characters, the parser it goes through, bounded by a budget)
HOSTILE: dict[str, tuple[Callable[[int], str], Callable[[str], Any], bool]] = {
    "connector file, unclosed ${ (variable scanner)": (unclosed_references, through_variables, False),
    "connector file, ${tenant.name} repeated (variable expansion)": (
        many_references,
        through_variables,
        False,
    ),
    "connector file, one long list (YAML reader)": (yaml_items, through_yaml, False),
    "connector file, empty documents (YAML reader, documents per file)": (yaml_documents, through_yaml, True),
    "connector file, duplicate keys (YAML reader, problems per file)": (
        yaml_duplicate_keys,
        through_yaml,
        True,
    ),
    "Microsoft365DSC script, plain lines (DSC lexer)": (dsc_plain_lines, through_dsc, False),
    "Microsoft365DSC script, unclosed ${ (DSC lexer)": (dsc_unclosed_variables, through_dsc, False),
    "Microsoft365DSC block, long array (DSC parser)": (dsc_block_values, through_dsc, False),
    "CLIXML, many objects (CLIXML reader)": (clixml_objects, through_clixml, False),
    "CLIXML, nested <Ref> back-references (expansion budget)": (clixml_references, through_clixml, True),
}


def best_time(parse: Callable[[str], Any], text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        parse(text)
        best = min(best, time.perf_counter() - start)
    return best


def times(
    parse: Callable[[str], Any], make: Callable[[int], str], size: int, factor: int = 4
) -> tuple[float, float]:
    """Best-of-three times at ``size`` and at ``size`` x ``factor`` (the tests' small-size check, which
    allows for a busy machine: ``large < 10 * small + 0.05``, where a quadratic parser takes 16x).

    The calling thread's CPU time, not the wall clock (a busy machine takes the CPU away between the
    two sizes, not inside one thread's time), the two sizes measured in turn (so a machine whose speed
    changes during the check slows both alike).
    """
    texts = (make(size), make(size * factor))
    best = [float("inf"), float("inf")]
    for _ in range(3):
        for index, text in enumerate(texts):
            start = time.thread_time()
            parse(text)
            best[index] = min(best[index], time.thread_time() - start)
    return best[0], best[1]


def calls(parse: Callable[[str], Any], text: str) -> int:
    """How many Python functions ``parse`` calls on ``text``: an operation count that does not depend on
    the machine's load (it misses work done inside one C call, such as a regular expression's)."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        parse(text)
    finally:
        sys.setprofile(None)
    return count


def run() -> list[dict[str, Any]]:
    results = []
    for name, (make, parse, budgeted) in HOSTILE.items():
        small = best_time(parse, make(SMALL), 5)
        large = best_time(parse, make(LARGE), 2)
        counted = calls(parse, make(LARGE)) / calls(parse, make(SMALL))
        results.append(
            {
                "name": f"parsing 1 MiB of hostile input: {name}; growth 64 KiB -> 1 MiB",
                "ratio": round(large / small, 1),
                "target": "bounded by the budget (~1)" if budgeted else "~16 (linear)",
                "detail": f"1 MiB {large * 1000:.0f} ms, 64 KiB {small * 1000:.1f} ms; Python calls "
                f"x{counted:.1f} (independent of the machine's load)",
            }
        )
    return results
