"""``aadap check``: placeholder registration until the safety package lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
