"""`mnist compare`: optimizers side by side, every `mnist train` option applying to all runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import MnistError
from ..training.optim import OPTIMIZERS
from . import app
from .options import JsonOption, _emit_json
from .train_options import config_options, with_train_options


@app.command()
@with_train_options(exclude=("optimizer", "name", "preset"))
def compare(
    optimizers: Annotated[str, typer.Option(help=f"Comma-separated optimizers: {', '.join(OPTIMIZERS)}.")] = "adam,nesterov",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds; each gives every optimizer the same initial weights and batch order.")] = "0",
    lr_sweep: Annotated[bool, typer.Option("--lr-sweep", help="Try a small grid of learning rates per optimizer first; keep the best on the validation split.")] = False,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="TOML file with any train option; command-line options win.", show_default=False)] = None,
    json_output: JsonOption = False,
    *,
    train_options: dict,
) -> None:
    """Compare optimizers fairly (default Adam vs Nesterov SGD): same network, initial weights and data order per seed.

    Every `mnist train` option applies to all runs. Each run lands in runs/compare_<timestamp>/<optimizer>_seed<k>/.
    """
    options = config_options(train_options)
    from ..training.compare import check_comparison, comparison_document, comparison_png, parse_list, run_comparison, save_document
    from ..training.config import build_train_config
    from ..training.prepare import check_runs
    from ..training.signals import TrainingInterrupted, stop_on_signals
    from ..reporting.compare import CompareView, summary_table
    from ..reporting.console import make_console
    from ..training.tensorboard import TensorBoardCallback
    from ..runs import create_run_dir

    console = make_console(json_output)
    names = parse_list(optimizers, str, "--optimizers")
    seed_list = parse_list(seeds, int, "--seeds")
    base = build_train_config(options, config_file)
    check_runs(check_comparison(base, names, seed_list, lr_sweep))  # everything checked before the folder is made
    folder = create_run_dir(base.runs_dir, "compare", label_first=True)
    console.print(f"Comparing {', '.join(names)} over seed(s) {', '.join(map(str, seed_list))} in {folder}")
    with stop_on_signals() as stop_event, CompareView(console, "Side by side (train loss, test accuracy)") as view:
        def make_callbacks(run):
            return [view.callback(run.run_dir.name), TensorBoardCallback(run.run_dir, run.data, run.config.to_dict())]

        try:
            outcomes, sweep = run_comparison(base, names, seed_list, folder, make_callbacks, lr_sweep, stop_event=stop_event)
        except TrainingInterrupted as exc:
            raise MnistError(f"comparison interrupted; the current run's checkpoint is {exc.checkpoint}",
                             hint="start the comparison again; finished runs stay in its folder") from None  # fmt: skip
        final_table = view.side_by_side()
    document = comparison_document(outcomes, sweep)
    document["folder"] = str(folder)
    document["plot"] = str(comparison_png(outcomes, folder / "comparison.png"))
    save_document(folder, document)
    if json_output:
        _emit_json(document)
        return
    console.print(final_table)
    console.print(summary_table(document["summary"]))
    console.print(document["verdict"])
    console.print(f"Folder: {folder}\nPlot: {document['plot']}\nTensorBoard: tensorboard --logdir {folder}")
