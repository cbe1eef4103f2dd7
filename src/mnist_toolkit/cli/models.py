"""`mnist models`: the architectures --arch accepts."""

from __future__ import annotations

from . import app
from .options import JsonOption, _emit_json


@app.command()
def models(json_output: JsonOption = False) -> None:
    """List the architectures (name, parameters, description) and the pretrained model in the package."""
    from ..inference.loading import pretrained_info
    from ..models import count_parameters, create_model, list_models
    from ..reporting.console import make_console

    rows = [{"name": i.name, "parameters": count_parameters(create_model(i.name)), "description": i.description} for i in list_models()]
    card = pretrained_info()
    if json_output:
        _emit_json({"architectures": rows, "pretrained": card})
        return
    from rich.table import Table

    table = Table(title="Architectures (--arch)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("parameters", justify="right")
    table.add_column("description")
    for row in rows:
        table.add_row(row["name"], f"{row['parameters']:,}", row["description"])
    console = make_console()
    console.print(table)
    if card is None:
        console.print("No pretrained model in this installation.")
        return
    pretrained = Table(title="Pretrained model (used when no run exists)", title_justify="left")
    for column in ("name", "arch", "parameters", "test accuracy", "validation", "trained with"):
        pretrained.add_column(column, justify="right" if column in ("parameters", "test accuracy", "validation") else "left")
    pretrained.add_row(card["name"], card["arch"], f"{card['params']:,}", f"{card['test_accuracy']:.2f}%",
                       f"{card['val_accuracy']:.2f}%", card["command"])  # fmt: skip
    console.print(pretrained)
