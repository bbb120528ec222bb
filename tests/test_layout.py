"""Names and layout that explain themselves (issue 19): checked, so they stay true."""

from __future__ import annotations

import importlib
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aadap", "flows", "deployments")
#: a flow named after the one service it drives (as a CLI module may be)
SAME_JOB = {"budget_watch.py": {"flows/budget_watch.py", "aadap/services/budget_watch.py"}}


def test_no_two_modules_share_a_name_for_different_jobs() -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name != "__init__.py" and "__pycache__" not in path.parts:
                seen[path.name].add(path.relative_to(ROOT).as_posix())
    repeated = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert repeated == SAME_JOB


@pytest.mark.parametrize(
    "package", ["aadap.db", "aadap.db.repos", "aadap.services", "aadap.orchestration"]
)
def test_each_layer_lists_its_modules_in_all(package: str) -> None:
    module = importlib.import_module(package)
    folder = Path(module.__file__ or "").parent
    present = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in folder.iterdir() if (p / "__init__.py").exists()
    }
    assert sorted(module.__all__) == sorted(present)
    for name in module.__all__:  # each documented in the package's map
        assert f":mod:`.{name}`" in (module.__doc__ or ""), name
