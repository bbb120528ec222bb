"""SQL analysis over sqlglot syntax trees, with a keyword fallback for what does not parse.

:mod:`.statements` is the entry point: :mod:`.script` splits and parses the script,
:mod:`.handlers` judge each statement node, :mod:`.keywords` reads what sqlglot could not
parse and :mod:`.side_doors` finds engine side doors in every statement's text.
"""

from __future__ import annotations

from aadap.safety.sql.statements import analyze_sql

__all__ = ["analyze_sql"]
