"""Reading YAML files safely with every value located, and replacing files atomically.

- :mod:`reconciler.yamlio.reader`: the one YAML reader (limits, located trees, :func:`locate`).
- :mod:`reconciler.yamlio.problems`: pydantic errors -> located problems (imports the client's model, so
  it is not re-exported here: the emulator imports this package and must not load the client's model).
- :mod:`reconciler.yamlio.atomic`: :func:`write_atomic`.
"""

from reconciler.yamlio.atomic import write_atomic
from reconciler.yamlio.reader import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
    MAX_PROBLEMS,
    AliasBudget,
    TooBig,
    YAlias,
    YDocument,
    YEntry,
    YMap,
    YNode,
    YScalar,
    YSeq,
    bounded,
    deref,
    display_path,
    locate,
    nesting_depth,
    outside_root,
    parse_file,
    parse_text,
    read_bytes,
    read_text,
    to_python,
)

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS",
    "AliasBudget",
    "TooBig",
    "YAlias",
    "YDocument",
    "YEntry",
    "YMap",
    "YNode",
    "YScalar",
    "YSeq",
    "bounded",
    "deref",
    "display_path",
    "locate",
    "nesting_depth",
    "outside_root",
    "parse_file",
    "parse_text",
    "read_bytes",
    "read_text",
    "to_python",
    "write_atomic",
]
