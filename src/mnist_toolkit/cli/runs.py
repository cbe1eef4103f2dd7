"""`mnist runs`: list the training runs (and which one answers by default), remove old ones."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from . import app
from .options import JsonOption, RunsDirOption, _emit_json


@app.command()
def runs(
    runs_dir: RunsDirOption = Path("runs"),
    remove: Annotated[Optional[list[str]], typer.Option("--remove", help="Delete this run (its name as listed, or its folder); repeat for several.", show_default=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List the runs, newest first: architecture, optimizer, epochs, test accuracy, and the default model.

    The default model (used by predict, evaluate, export and serve when no --run is given) is the
    newest `mnist train` run directly under the runs folder; the runs inside compare_* and
    experiments_* folders are used only when named. With no run, it is the pretrained model.
    """
    from ..reporting.console import make_console
    from ..reporting.runs import runs_table
    from ..runs import list_runs, remove_run

    console = make_console(json_output)
    if remove:
        if not yes:
            if not sys.stdin.isatty():
                raise ConfigError("--remove deletes folders: confirm with --yes when not at a terminal", hint="mnist runs --remove NAME --yes")
            if not typer.confirm(f"Delete {', '.join(remove)} under {runs_dir}?", default=False):
                raise typer.Exit(1)
        removed = [str(remove_run(runs_dir, name)) for name in remove]
        if json_output:
            _emit_json({"removed": removed})
        else:
            console.print("Removed " + ", ".join(removed))
        return
    summaries = list_runs(runs_dir)
    if json_output:
        _emit_json({"runs_dir": str(runs_dir), "default": next((s.name for s in summaries if s.default), "pretrained"),
                    "runs": [s.to_json() for s in summaries]})  # fmt: skip
        return
    console.print(runs_table(summaries, runs_dir))
