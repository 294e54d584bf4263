"""The desired state at a git revision: what ``exoform plan --base REF`` compares the live state with.

Contracts:
- ``REF`` names a commit of the git repository holding ``exoform.yaml``; it is checked with
  ``git rev-parse --verify --end-of-options REF^{commit}`` and refused (a :class:`ConfigError` saying
  why) when it starts with ``-`` or is not a commit there, so a ref can never become an option of git.
- The files at that commit are read without touching the working tree, the index or the repository's
  metadata: its YAML files (and the configuration file), as git stores them (``git ls-tree`` and ``git
  cat-file``: no ``.gitattributes`` export rule, filter or hook applies), are written into a temporary
  folder, removed afterwards.  Each git command is bounded by :data:`GIT_TIMEOUT` seconds.
- Each tenant of the run is, at the base: loaded (a :class:`TenantDesired`), not declared (None: no
  ``exoform.yaml`` at that path, or no such tenant: everything of it comes from the files), or not
  loadable (``problems`` says why; its changes are then left unmarked, a warning, never a failed plan).
  Messages name files as ``REF:path`` (relative to the repository), never the temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from reconciler.desired.connectors import YAML_SUFFIXES, ParsedFiles, TenantDesired, load_tenant
from reconciler.desired.loader import load_config
from reconciler.errors import ConfigError, ExoformError, InputError

#: Seconds each git command may take.
GIT_TIMEOUT = 120.0


@dataclass(frozen=True)
class BaseDesired:
    """The desired state of a run's tenants at the base revision ``ref`` (commit ``commit``)."""

    ref: str
    commit: str
    #: Each tenant of the run that the base declares (its desired state) or does not (None).
    tenants: dict[str, TenantDesired | None] = field(default_factory=dict)
    #: Each tenant whose files do not load at the base, with why: its changes stay unmarked.
    problems: dict[str, str] = field(default_factory=dict)
    #: A note for the user (``exoform.yaml`` not at the base), or "".
    note: str = ""


def _git(repo: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    git = shutil.which("git")
    if git is None:
        raise ConfigError("--base needs git, which is not on PATH")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        return subprocess.run(
            [git, "-C", str(repo), *args],
            input=input,
            capture_output=True,
            env=env,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"--base: git {args[0]} took longer than {GIT_TIMEOUT:.0f} seconds") from None


def resolve_commit(repo: Path, ref: str) -> str:
    """The full id of the commit ``ref`` names in the repository at ``repo``; :class:`ConfigError` when
    ``ref`` is empty, starts with ``-`` or names no commit there."""
    if not ref.strip() or ref.startswith("-") or "\0" in ref:
        raise ConfigError(f"--base {ref!r} is not a git revision (a revision cannot start with '-')")
    found = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    commit = found.stdout.decode("ascii", "replace").strip()
    if found.returncode != 0 or not commit:
        raise ConfigError(
            f"--base {ref!r} names no commit of the repository at {repo} (in CI, check out with "
            "fetch-depth: 0 so the pull request's base commit is there)"
        )
    return commit


def _where(config_path: Path) -> tuple[Path, str]:
    """The top of the git repository holding ``config_path``, and the file's path inside it."""
    folder = config_path.absolute().parent
    top = _git(folder, "rev-parse", "--show-toplevel")
    prefix = _git(folder, "rev-parse", "--show-prefix")
    if top.returncode != 0 or prefix.returncode != 0:
        raise ConfigError(f"--base: {config_path} is not in a git repository")
    root = Path(os.fsdecode(top.stdout).rstrip("\n"))
    return root, os.fsdecode(prefix.stdout).rstrip("\n") + config_path.name


def _failed(done: subprocess.CompletedProcess[bytes], what: str) -> ConfigError:
    why = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return ConfigError(f"--base: {what} failed: {why[-1] if why else f'exit {done.returncode}'}")


def _extract(repo: Path, commit: str, inside: str, into: Path) -> None:
    """Write the YAML files of ``commit`` (and the configuration file ``inside``) under ``into``, as git
    stores them: no attribute, filter or checkout hook applies; a link is written as a link (the
    loader refuses linked connector files, as it does in the working tree)."""
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit)
    if listing.returncode != 0:
        raise _failed(listing, f"git ls-tree {commit[:12]}")
    wanted: list[tuple[bytes, bytes, PurePosixPath]] = []
    for item in listing.stdout.split(b"\0"):
        meta, _, raw = item.partition(b"\t")
        fields = meta.split(b" ")
        path = PurePosixPath(os.fsdecode(raw))
        if len(fields) != 3 or fields[1] != b"blob" or path.is_absolute() or ".." in path.parts:
            continue
        mode, _, oid = fields
        if path.name.lower().endswith(YAML_SUFFIXES) or str(path) == inside:
            wanted.append((mode, oid, path))
    if not wanted:
        return
    blobs = _git(repo, "cat-file", "--batch", input=b"".join(oid + b"\n" for _, oid, _ in wanted))
    if blobs.returncode != 0:
        raise _failed(blobs, "git cat-file")
    data, at = blobs.stdout, 0
    for mode, oid, path in wanted:
        end = data.find(b"\n", at)
        header = data[at:end].split(b" ")
        if end < 0 or len(header) != 3 or header[0] != oid:
            raise ConfigError(f"--base: git cat-file gave no {path} at {commit[:12]}")
        size = int(header[2])
        content, at = data[end + 1 : end + 1 + size], end + 2 + size
        target = into.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == b"120000":
            os.symlink(os.fsdecode(content), target)
        else:
            target.write_bytes(content)


def load_at(config_path: Path, ref: str, tenants: Sequence[str]) -> BaseDesired:
    """The desired state of ``tenants`` at the git revision ``ref`` (see the module contract); raises
    :class:`ConfigError` when ``ref`` is refused or the files at it cannot be read from git."""
    repo, inside = _where(config_path)
    commit = resolve_commit(repo, ref)
    with tempfile.TemporaryDirectory(prefix="exoform-base-") as temp:
        tree = Path(temp) / "tree"
        _extract(repo, commit, inside, tree)

        def located(text: str) -> str:
            return text.replace(f"{tree}{os.sep}", f"{ref}:").replace(str(tree), f"{ref}:")

        path = tree / inside
        if not path.is_file():
            note = f"no {inside} at {ref}: every change is from the files"
            return BaseDesired(ref, commit, dict.fromkeys(tenants), note=note)
        try:
            config = load_config(path)
        except InputError as exc:
            why = located(str(exc.problems[0]) if exc.problems else str(exc))
            return BaseDesired(ref, commit, problems=dict.fromkeys(tenants, why))
        base, files = BaseDesired(ref, commit), ParsedFiles()  # a shared folder parsed once
        for name in tenants:
            if name not in config.tenants:
                base.tenants[name] = None
                continue
            try:
                base.tenants[name] = load_tenant(config, name, files)
            except InputError as exc:
                first = exc.problems[0] if exc.problems else exc
                more = f" (and {len(exc.problems) - 1} more problem(s))" if len(exc.problems) > 1 else ""
                base.problems[name] = located(f"{first}{more}")
            except ExoformError as exc:
                base.problems[name] = located(str(exc))
        return base
