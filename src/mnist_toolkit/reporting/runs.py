"""The `mnist runs` table."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..runs import RunSummary


def runs_table(summaries: list[RunSummary], runs_dir: Path) -> Group | Text:
    """The runs newest first, the default model's marked; or a line saying there are none."""
    default = next((s for s in summaries if s.default), None)
    footer = Text(f"Default model: {default.name} ({default.checkpoint})" if default else
                  "Default model: the pretrained model in the package (no `mnist train` run here)")  # fmt: skip
    if not summaries:
        return Text(f"No run with a checkpoint under {runs_dir}.\n") + footer
    table = Table(title=f"Runs under {runs_dir}, newest first", title_justify="left")
    for column in ("", "run", "updated", "arch", "optimizer", "epochs", "test accuracy", "checkpoint"):
        table.add_column(column, justify="right" if column in ("epochs", "test accuracy") else "left")
    for s in summaries:
        epochs = f"{s.epochs_done}/{s.epochs}" if s.epochs is not None else str(s.epochs_done)
        accuracy = f"{s.test_accuracy:.2f}%" if s.test_accuracy is not None else "-"
        table.add_row("*" if s.default else "", s.name, time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated)),
                      s.arch or "-", s.optimizer or "-", epochs, accuracy, s.checkpoint)  # fmt: skip
    return Group(table, footer)
