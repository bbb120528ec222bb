"""A small, linear Scala scanner: comments and string contents masked, offsets preserved.

``mask`` returns two copies of the source with identical offsets and newlines:

* ``code``: comments *and* string contents replaced by spaces (quotes kept), for
  matching identifiers and calls without being fooled by text inside strings;
* ``text``: only comments replaced, for reading string literals back by offset.

``statements`` splits ``code`` into logical statements: a line continues the
previous one when it starts with ``.`` or when parentheses are still open or the
previous line ends with an operator, the usual shapes of a Spark method chain.
Braces are not tracked: a block is a sequence of statements, not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTINUES = (".", "(", ",", "=", "+", "&&", "||", "->", "=>")


@dataclass(frozen=True, slots=True)
class Masked:
    code: str
    text: str
    #: offset of a triple-quoted string or block comment that never closes (it hides the
    #: rest of the source; the code does not compile), else None
    unterminated: int | None = None


_SPECIAL = re.compile(r"//|/\*|\"|'")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"?')
_CHAR = re.compile(r"'(?:\\.|[^'\\\n])'")
_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank(segment: str) -> str:
    return _NOT_NEWLINE.sub(" ", segment)


def mask(source: str) -> Masked:
    """Mask comments (both copies) and string contents (``code`` only); linear in the input."""
    code: list[str] = []
    text: list[str] = []
    unterminated: int | None = None
    i, n = 0, len(source)
    while i < n:
        match = _SPECIAL.search(source, i)
        if match is None:
            break
        start = match.start()
        code.append(source[i:start])
        text.append(source[i:start])
        token = match.group()
        if token == "//" or token == "/*":
            end = source.find("\n" if token == "//" else "*/", start + 2)
            if end == -1 and token == "/*" and unterminated is None:
                unterminated = start
            end = n if end == -1 else end + (0 if token == "//" else 2)
            blank = _blank(source[start:end])
            code.append(blank)
            text.append(blank)
        elif source.startswith('"""', start):
            end = source.find('"""', start + 3)
            if end == -1 and unterminated is None:
                unterminated = start
            end = n if end == -1 else end + 3
            while end < n and source[end] == '"':  # """a""""  closes at the last quote
                end += 1
            inner_end = max(start + 3, end - 3)
            code.append(
                source[start : start + 3]
                + _blank(source[start + 3 : inner_end])
                + source[inner_end:end]
            )
            text.append(source[start:end])
        elif token == '"':
            end = _STRING.match(source, start).end()  # type: ignore[union-attr]
            closed = end - start >= 2 and source[end - 1] == '"'
            inner_end = end - 1 if closed else end
            code.append('"' + _blank(source[start + 1 : inner_end]) + source[inner_end:end])
            text.append(source[start:end])
        else:
            char = _CHAR.match(source, start)
            end = char.end() if char else start + 1
            code.append(source[start:end] if char is None else "'" + " " * (end - start - 2) + "'")
            text.append(source[start:end])
        i = end
    code.append(source[i:])
    text.append(source[i:])
    return Masked("".join(code), "".join(text), unterminated)


def statements(code: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of each logical statement of masked ``code``."""
    spans: list[tuple[int, int]] = []
    depth = 0
    offset = 0
    previous = ""
    for line in code.splitlines(keepends=True):
        stripped = line.strip()
        if stripped:
            continues = depth > 0 or stripped.startswith(".") or previous.endswith(_CONTINUES)
            if continues and spans:
                spans[-1] = (spans[-1][0], offset + len(line))
            else:
                spans.append((offset, offset + len(line)))
            opened = stripped.count("(") + stripped.count("[")
            depth = max(0, depth + opened - stripped.count(")") - stripped.count("]"))
            previous = stripped
        offset += len(line)
    return spans
