"""Which tables already exist on the target: name normalisation and matching.

Names compare case-insensitively with quoting (backticks, double quotes, brackets)
removed. Qualifiers compare from the right: ``orders`` matches ``sales.orders`` and
``main.sales.orders`` (an unqualified name may resolve to any schema), while
``hr.orders`` does not match ``sales.orders``. An entry containing ``*`` or ``?``
is a glob over the full name (``*`` alone: every table exists; ``sales.*``: every
table of schema ``sales``). A name that contains the dynamic-SQL placeholder
cannot be known and is treated as existing (fail closed).

``None`` instead of a collection means "the caller does not know": then
:meth:`TableCatalog.may_exist` is always true, so overwriting or replacing any table
is destructive, while :meth:`TableCatalog.exists` (positive knowledge) is false.
An empty collection means "no table exists yet".
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection

PLACEHOLDER = "aadap_param"

_QUOTES = str.maketrans("", "", '`"[]')


def normalise_name(name: str) -> tuple[str, ...]:
    """``[Sales].`Orders``` → ``("sales", "orders")``."""
    cleaned = name.strip().translate(_QUOTES).lower()
    return tuple(part.strip() for part in cleaned.split(".") if part.strip())


class TableCatalog:
    """The caller's statement of which tables exist; see the module docstring."""

    __slots__ = ("_exact", "_globs", "known")

    def __init__(self, existing: Collection[str] | None = None) -> None:
        self.known = existing is not None
        existing = existing or ()
        exact: set[tuple[str, ...]] = set()
        globs: list[str] = []
        for entry in existing:
            if any(ch in entry for ch in "*?"):
                globs.append(entry.strip().translate(_QUOTES).lower())
            else:
                parts = normalise_name(entry)
                if parts:
                    exact.add(parts)
        self._exact = frozenset(exact)
        self._globs = tuple(globs)

    def may_exist(self, name: str | tuple[str, ...]) -> bool:
        """Fail closed: true unless the catalog is known and ``name`` is not in it."""
        return not self.known or self.exists(name)

    def exists(self, name: str | tuple[str, ...]) -> bool:
        """Positive knowledge: ``name`` is listed (or is a dynamic placeholder)."""
        parts = normalise_name(name) if isinstance(name, str) else name
        if not parts or any(PLACEHOLDER in part for part in parts):
            return True
        if parts in self._exact:
            return True
        for known in self._exact:
            shorter, longer = (parts, known) if len(parts) < len(known) else (known, parts)
            if longer[len(longer) - len(shorter) :] == shorter:
                return True
        full = ".".join(parts)
        return any(fnmatch.fnmatchcase(full, pattern) for pattern in self._globs)
