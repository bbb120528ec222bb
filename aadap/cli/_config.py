"""``aadap config show``: the effective configuration, secrets masked."""

from __future__ import annotations

import typer

from aadap.cli._common import Format, check_format, out, print_json, settings_or_exit


def _flatten(data: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "policy" and key != "models" and key != "prices":
            rows.extend(_flatten(value, prefix=f"{name}."))
        else:
            rows.append((name, value))
    return rows


config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@config_app.command("show")
def show(
    fmt: Format = "text",
) -> None:
    """Print every setting; secrets show at most their last four characters."""
    check_format(fmt)
    settings = settings_or_exit(home=False)
    view = settings.public_view()
    if fmt == "json":
        print_json(view)
        return
    for name, value in _flatten(view):
        out.print(f"{name} = {value}", highlight=False, markup=False)
