"""`mnist experiments`: the design notes' grid, each change against the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import MnistError
from . import app
from .options import DataDirOption, JsonOption, _emit_json


@app.command()
def experiments(
    grid: Annotated[Optional[Path], typer.Option(help="A grid TOML file (\\[baseline] + \\[\\[experiment]] tables); default: the design notes' grid.", show_default=False)] = None,
    only: Annotated[Optional[str], typer.Option(help="Comma-separated experiment names to run (the baseline always runs).", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Cap every experiment's epochs (shortens the grid).", show_default=False)] = None,
    train_limit: Annotated[Optional[int], typer.Option(min=1, help="Train on the first N images only.", show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(help="A grid folder to continue: finished experiments are skipped.", show_default=False)] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where the grid folder goes.")] = Path("runs"),
    data_dir: DataDirOption = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads for torch.", show_default=False)] = None,
    device: Annotated[Optional[str], typer.Option(help="auto | cpu | cuda | mps.", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Run the design notes' experiment grid: each change, one at a time, against the baseline (lr 1e-3, batch 64,
    10 epochs, 1 conv + 1 FC, Adam). Results go to runs/experiments_<timestamp>/ as CSV, JSON and Markdown."""
    from ..training.signals import TrainingInterrupted, stop_on_signals
    from ..training.experiments import BASELINE, DEFAULT_GRID, experiment_config, load_grid, read_grid_folder, run_grid, select, write_results
    from ..reporting.console import make_console
    from ..reporting.experiments import results_table
    from ..training.tensorboard import TensorBoardCallback
    from ..reporting.training import ConsoleCallback
    from ..training.prepare import check_runs
    from ..runs import create_run_dir

    console = make_console(json_output)
    if resume is not None:
        baseline, chosen, overrides = read_grid_folder(resume)
        folder = resume
    else:
        baseline, chosen = (load_grid(grid) if grid else (dict(BASELINE), list(DEFAULT_GRID)))
        chosen = select(chosen, [n.strip() for n in only.split(",") if n.strip()] if only else None)
        overrides = {"epochs": epochs, "train_limit": train_limit, "data_dir": str(data_dir) if data_dir else None,
                     "threads": threads, "device": device}  # fmt: skip
        check_runs(experiment_config(baseline, experiment, overrides) for experiment in chosen)  # before the folder is made
        folder = create_run_dir(runs_dir, "experiments", label_first=True)
    console.print(f"{len(chosen)} experiment(s) in {folder}")

    def done(row, how):
        console.print(f"{row['name']}: {how}, test accuracy {row['test_accuracy']:.2f}% ({row['total_seconds']:.0f} s)")

    with stop_on_signals() as stop_event:
        def make_callbacks(run):
            return [ConsoleCallback(console, f"Experiment {run.run_dir.name}"),
                    TensorBoardCallback(run.run_dir, run.data, run.config.to_dict())]  # fmt: skip

        try:
            rows = run_grid(folder, baseline, chosen, overrides, make_callbacks, done, stop_event=stop_event)
        except TrainingInterrupted:
            raise MnistError(f"experiments interrupted; finished ones are kept in {folder}",
                             hint=f"continue with `mnist experiments --resume {folder}`") from None  # fmt: skip
    files = write_results(folder, rows)
    if json_output:
        _emit_json({"folder": str(folder), "results": rows, "files": files})
        return
    console.print(results_table(rows))
    console.print(f"Results: {', '.join(files.values())}\nTensorBoard (HPARAMS tab): tensorboard --logdir {folder}")
