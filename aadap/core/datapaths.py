"""The data root: where data paths in requests resolve, and the folder they may not leave.

A request names its files in plain words ("load examples/data/orders.csv into orders").
Relative paths resolve against the request's working directory, which is the data root
unless the request gives one (``AADAP_DATA_ROOT``; default: the directory the command
runs in, and for served runs the directory ``aadap serve`` started in). Every path the
request names must lie under the data root once resolved (``..`` and symbolic links
followed), whichever provider reads it: the check reads the request text itself, before
a task exists and before any LLM call, and refuses with
:class:`~aadap.core.exceptions.DataPathOutsideRootError`.

What counts as a path: a word ending in a data file suffix (``.csv``, ``.parquet``,
``.json``, …), or a word that starts with ``~/``, ``./`` or ``../``, or with ``/`` and has
at least two parts (``/etc/passwd``, not ``/2``). URLs are not paths here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from aadap.core.exceptions import DataPathOutsideRootError

#: suffixes of the data files a request may name (the offline grammar's formats and more)
DATA_SUFFIXES = ("csv", "tsv", "txt", "parquet", "pq", "json", "jsonl", "ndjson", "xlsx", "avro")
_WORD = re.compile(r"[^\s'\"`,;()\[\]{}<>]+")
_SUFFIX = re.compile(r"\.(?:" + "|".join(DATA_SUFFIXES) + r")$", re.IGNORECASE)
_ROOTED = re.compile(r"^(?:~/|\.\.?/|/[^/]+/)")
_TRAILING = ".:!?"


def named_paths(text: str) -> list[str]:
    """The words of ``text`` that name files, in order, each once."""
    found: dict[str, None] = {}
    for match in _WORD.finditer(text):
        word = match.group().rstrip(_TRAILING)
        if not word or "://" in word:
            continue
        if _SUFFIX.search(word) or _ROOTED.match(word):
            found[word] = None
    return list(found)


def resolve(path: str, working_dir: Path) -> Path:
    """``path`` as the file it names: ``~`` expanded, relative to ``working_dir``, ``..``
    and symbolic links resolved (as far as they exist)."""
    given = Path(os.path.expanduser(path))
    return (given if given.is_absolute() else working_dir / given).resolve()


def is_inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def working_dir(given: str | None, root: Path) -> Path:
    """Where a request's relative paths resolve: its own ``working_dir`` (relative to the
    data root), else the data root."""
    return resolve(given, root) if given else root


def check_request_paths(text: str, *, working_dir: Path, root: Path) -> None:
    """Refuse (``DataPathOutsideRootError``) the first path ``text`` names that resolves
    outside ``root``; a bare file name also counts under ``working_dir/data/`` (where the
    offline grammar looks for it too)."""
    root = root.resolve()
    if not is_inside(working_dir, root):
        raise DataPathOutsideRootError(
            f"the request's working_dir {working_dir} is outside the data root {root}; "
            "leave it out (paths then resolve against the data root) or name a folder under it",
            details={"field": "working_dir", "resolved": str(working_dir), "data_root": str(root)},
        )
    for word in named_paths(text):
        candidates = [resolve(word, working_dir)]
        if len(Path(word).parts) == 1:
            candidates.append(resolve(str(Path("data") / word), working_dir))
        for resolved in candidates:
            if not is_inside(resolved, root):
                raise DataPathOutsideRootError(
                    f"the data path {word!r} resolves to {resolved}, outside the data root "
                    f"{root}; name files under {root}, or set AADAP_DATA_ROOT to a folder "
                    "that holds them",
                    details={"path": word, "resolved": str(resolved), "data_root": str(root)},
                )


__all__ = [
    "DATA_SUFFIXES",
    "check_request_paths",
    "is_inside",
    "named_paths",
    "resolve",
    "working_dir",
]
