"""Python and PySpark analysis: the ``ast`` walked after folding constants and resolving names.

:mod:`.walk` is the entry point; the rules it applies live in one module per kind of risk
(:mod:`.dangers`, :mod:`.calls`, :mod:`.embedded_sql`, :mod:`.writes`,
:mod:`.egress_calls`, :mod:`.side_door_calls`, :mod:`.folded_secrets`), over the
:mod:`.names` resolver and the :mod:`.fold` constant folder.
"""

from __future__ import annotations

from aadap.safety.python.walk import analyze_python

__all__ = ["analyze_python"]
