"""Scala analysis by conservative patterns (Scala is not parsed).

:mod:`.scan` is the entry point: :mod:`.lexing` blanks comments and string contents and
splits statements, :mod:`.patterns` holds the fixed patterns, :mod:`.literals` reads string
literals back and :mod:`.egress_patterns` finds network egress and secret-bearing files.
"""

from __future__ import annotations

from aadap.safety.scala.scan import analyze_scala

__all__ = ["analyze_scala"]
