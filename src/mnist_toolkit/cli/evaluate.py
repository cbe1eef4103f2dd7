"""`mnist evaluate`: score a trained model and save the report beside its run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from . import app
from .options import (
    CheckpointOption,
    DataDirOption,
    EngineOption,
    JsonOption,
    RunOption,
    RunsDirOption,
    VerboseOption,
    _emit_json,
    _open_model,
    _resolve_data,
)


@app.command()
def evaluate(
    run: RunOption = None,
    checkpoint: CheckpointOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    images: Annotated[Optional[Path], typer.Option(help="An images IDX file to score instead of the MNIST test set.", show_default=False)] = None,
    labels: Annotated[Optional[Path], typer.Option(help="Its labels IDX file.", show_default=False)] = None,
    show: Annotated[int, typer.Option(min=0, help="Draw the first N misclassified digits.")] = 12,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per forward pass.")] = 256,
    data_dir: DataDirOption = None,
    engine: EngineOption = "auto",
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score a trained model: accuracy, loss, per-class metrics, confusion matrix, mistakes; saved under the run."""
    from ..data.source import load_pair, load_split
    from ..inference.evaluation import evaluate_digits, save_evaluation
    from ..reporting.console import make_console
    from ..reporting.evaluation import evaluation_view

    console = make_console(json_output)
    if (images is None) != (labels is None):
        raise ConfigError("--images and --labels go together", hint="pass both, or neither for the MNIST test set")
    loaded = _open_model(run, checkpoint, runs_dir, engine, make_console(True), verbose)
    if images is not None and labels is not None:
        digits = load_pair(images, labels)
        report = evaluate_digits(loaded, digits.images, digits.labels, {"source": "files", "images": str(images), "labels": str(labels)}, batch_size)
    else:
        source = _resolve_data(data_dir, console, verbose)
        digits = load_split(source, "test")
        report = evaluate_digits(loaded, digits.images, digits.labels, {**source.describe(), "split": "test"}, batch_size)
    saved = {}
    if loaded.origin != "pretrained":  # the pretrained model has no run folder to save into
        # TensorBoard's writer comes with torch, which the ONNX engine never imports.
        saved = save_evaluation(report, digits.images, loaded.path, loaded.arch, loaded.global_step, tensorboard=loaded.engine == "torch")
    if json_output:
        _emit_json({**report.to_json(), "engine": loaded.engine, "origin": loaded.origin, "saved": saved})
        return
    console.print(evaluation_view(report, digits.images, show))
    if saved:
        console.print(f"Saved {', '.join(saved.values())}")
    console.print(f"Engine: {loaded.engine}" + ("; the pretrained model's report is not saved (it has no run folder)" if loaded.origin == "pretrained" else ""))
