"""The one way exoform replaces a file: all at once, so a crash leaves the old file or the new one."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_atomic(path: Path, text: str, *, mode: int = 0o666) -> os.stat_result:
    """Replace ``path`` with a file holding ``text`` (UTF-8); returns the ``fstat`` of the file written.

    Contracts:
    - The text goes to a new temp file in the same folder, created exclusively (``O_EXCL``, never
      through a file or symbolic link someone left at that name) with permissions ``mode`` (less the
      umask, as for any new file: pass ``0o600`` for a file only its owner may read); it is fsynced,
      renamed over ``path`` and the folder is fsynced where the platform allows.
    - A crash at any point leaves the old file or the new one, never a torn file; on an error the temp
      file is removed and the error raised (``OSError``).
    - The returned stat is the identity of the file now at ``path`` (taken from the written file itself,
      so a later replace by another process cannot be mistaken for it).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, mode)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp, path)
            written = os.fstat(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every platform or file system can fsync a folder
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return written
