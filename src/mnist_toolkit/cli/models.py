"""`mnist models`: the architectures --arch accepts."""

from __future__ import annotations

from . import app
from .options import JsonOption, _emit_json


@app.command()
def models(json_output: JsonOption = False) -> None:
    """List the architectures: name, parameters and description."""
    from ..models import count_parameters, create_model, list_models
    from ..reporting.console import make_console

    rows = [{"name": i.name, "parameters": count_parameters(create_model(i.name)), "description": i.description} for i in list_models()]
    if json_output:
        _emit_json(rows)
        return
    from rich.table import Table

    table = Table(title="Architectures (--arch)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("parameters", justify="right")
    table.add_column("description")
    for row in rows:
        table.add_row(row["name"], f"{row['parameters']:,}", row["description"])
    make_console().print(table)
