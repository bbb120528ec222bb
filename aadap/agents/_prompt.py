"""Prompt templates: one Markdown file per agent under ``prompts/``.

A file has ``## ROLE``, ``## CONSTRAINTS`` and ``## TASK`` sections. The OUTPUT FORMAT
section is generated from the output model's JSON schema, so prompt and validation
never drift apart. The TASK section is a :class:`string.Template` (``$name``
placeholders), so JSON braces in inputs need no escaping. :meth:`PromptTemplate.read_user`
inverts it: the offline rules read an agent's inputs back from the prompt, as any model would.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from string import Template

from pydantic import BaseModel

_SECTIONS = ("ROLE", "CONSTRAINTS", "TASK")
_HEADING = re.compile(r"^##\s+([A-Z ]+?)\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\$(?:(?P<named>\w+)|\{(?P<braced>\w+)\})")
CORRECTION_HEADING = "\n\nCORRECTION REQUIRED\n"
"""Starts the section a re-prompt appends after the TASK section."""


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    name: str
    role: str
    constraints: str
    task: str

    def system(self, output: type[BaseModel]) -> str:
        return "\n\n".join(
            [
                f"ROLE\n{self.role}",
                f"CONSTRAINTS\n{self.constraints}",
                f"OUTPUT FORMAT\n{output_format(output)}",
            ]
        )

    def user(self, values: dict[str, str]) -> str:
        return "TASK\n" + Template(self.task).substitute(values)

    def read_user(self, text: str) -> dict[str, str] | None:
        """The values :meth:`user` filled in, read back from ``text`` (``None`` if it does
        not follow this template). A CORRECTION section after the TASK is ignored."""
        task = text.split(CORRECTION_HEADING, 1)[0]
        match = _task_pattern(self.task).fullmatch(task)
        return None if match is None else match.groupdict()


@functools.cache
def _task_pattern(task: str) -> re.Pattern[str]:
    """The TASK template as a regex, one greedy group per placeholder: the first value
    (the user's own text, in the parser's prompt) may contain anything the later,
    agent-rendered parts do not."""
    parts, seen, end = ["TASK\n"], set(), 0
    for placeholder in _PLACEHOLDER.finditer(task):
        name = placeholder["named"] or placeholder["braced"]
        parts += [re.escape(task[end : placeholder.start()])]
        parts += [f"(?P={name})" if name in seen else f"(?P<{name}>.*)"]
        seen.add(name)
        end = placeholder.end()
    parts.append(re.escape(task[end:]))
    return re.compile("".join(parts), re.DOTALL)


@functools.cache
def output_format(output: type[BaseModel]) -> str:
    """The output instructions for ``output`` (built once per model: generating a JSON
    schema costs milliseconds, and every agent call needs it)."""
    schema = json.dumps(output.model_json_schema(), separators=(",", ":"), sort_keys=True)
    return (
        "Answer with exactly one JSON object and nothing else: no prose before or after it,"
        " no markdown fences, no comments. Use only the keys the schema defines, with the"
        f" types it gives. JSON schema of the object:\n{schema}"
    )


@functools.cache
def load_prompt(name: str) -> PromptTemplate:
    """Read and split ``prompts/<name>.md``; a missing section is a packaging bug."""
    text = resources.files("aadap.agents.prompts").joinpath(f"{name}.md").read_text("utf-8")
    parts = _HEADING.split(text)
    sections = {title: body.strip() for title, body in zip(parts[1::2], parts[2::2], strict=True)}
    missing = [section for section in _SECTIONS if not sections.get(section)]
    if missing:
        raise ValueError(f"prompt {name!r} lacks the section(s) {', '.join(missing)}")
    return PromptTemplate(name, sections["ROLE"], sections["CONSTRAINTS"], sections["TASK"])


def correction_section(errors: list[str], bad_output: str, *, limit: int = 4000) -> str:
    shown = bad_output if len(bad_output) <= limit else bad_output[:limit] + "\n…(truncated)"
    listed = "\n".join(f"- {error}" for error in errors)
    return (
        CORRECTION_HEADING.strip() + "\n"
        "Your previous answer was rejected. Fix every error below and answer again with one"
        f" JSON object that matches the OUTPUT FORMAT.\nErrors:\n{listed}\n"
        f"Your previous answer:\n{shown}"
    )


def as_json(value: object) -> str:
    """Render a structured input for the TASK section."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)
