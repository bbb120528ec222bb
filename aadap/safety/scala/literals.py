"""Scala string literals read back from source: plain, triple-quoted, ``.stripMargin``,
``s``/``f`` interpolation (a template), and ``val`` string constants.
"""

from __future__ import annotations

import re

from aadap.safety._catalog import PLACEHOLDER
from aadap.safety.scala import patterns as rules
from aadap.safety.scala.lexing import Masked

_INTERPOLATION = re.compile(r"\$\{[^}\n]*\}|\$[A-Za-z_]\w*")
_PREFIXED = re.compile(r'(s|f|raw)("""|")')
_IDENT = re.compile(r"([A-Za-z_]\w*)\s*\)")

Literal = tuple[str, str, int]  # (kind: literal|template|unknown, text, offset of the text)


def read_literal(m: Masked, at: int, constants: dict[str, Literal]) -> Literal:
    text = m.text
    prefix = _PREFIXED.match(text, at)
    interpolator = prefix.group(1) if prefix else ""
    start = prefix.start(2) if prefix else at
    if text.startswith('"""', start):
        end = text.find('"""', start + 3)
        end = len(text) if end == -1 else end
        body, after = text[start + 3 : end], end + 3
        if re.match(r"\s*\.\s*stripMargin\b", text[after : after + 40]):
            body = "\n".join(re.sub(r"^\s*\|", "", line) for line in body.split("\n"))
        offset = start + 3
    elif text.startswith('"', start):
        end = start + 1
        while end < len(text) and text[end] not in '"\n':
            end += 2 if text[end] == "\\" else 1
        body, offset = text[start + 1 : end].replace('\\"', '"'), start + 1
    else:
        ident = _IDENT.match(text, at)
        if ident and ident.group(1) in constants:
            return constants[ident.group(1)]
        return ("unknown", "", at)
    if interpolator in {"s", "f"} and _INTERPOLATION.search(body):
        return ("template", _INTERPOLATION.sub(PLACEHOLDER, body), offset)
    return ("literal", body, offset)


def string_constants(m: Masked) -> dict[str, Literal]:
    found: dict[str, Literal] = {}
    counts: dict[str, int] = {}
    for match in rules.STRING_VAL.finditer(m.code):
        name = match.group(1)
        counts[name] = counts.get(name, 0) + 1
        found[name] = read_literal(m, match.end(), {})
    return {k: v for k, v in found.items() if counts[k] == 1 and v[0] != "unknown"}
