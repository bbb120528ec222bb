"""``load_examples`` on the shipped file and on broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadap.agents import Example, load_examples
from aadap.core.exceptions import InvalidRequestError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_shipped_examples_load_in_order() -> None:
    examples = load_examples(EXAMPLES)

    assert len(examples) >= 8
    assert examples[0].name == "load-orders"
    assert all(isinstance(e, Example) and e.request and e.description for e in examples)
    assert len({e.request for e in examples}) == len(examples)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="no examples file"):
        load_examples(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[example]]\nname = 'a'\n", "lacks request, description"),
        ("[[example\n", "not valid TOML"),
        (
            "[[example]]\nname='a'\nrequest='r'\ndescription='d'\n" * 2,
            "duplicate example names a",
        ),
    ],
)
def test_broken_files(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "requests.toml").write_text(content)
    with pytest.raises(InvalidRequestError, match=message):
        load_examples(tmp_path)
