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
    from ..inference.evaluation import build_report, evaluate_model
    from ..reporting.console import make_console
    from ..reporting.evaluation import evaluation_view

    console = make_console(json_output)
    if (images is None) != (labels is None):
        raise ConfigError("--images and --labels go together", hint="pass both, or neither for the MNIST test set")
    loaded = _open_model(run, checkpoint, runs_dir, engine, make_console(True), verbose)
    if images is not None:
        digits = load_pair(images, labels)
        data = {"source": "files", "images": str(images), "labels": str(labels)}
    else:
        source = _resolve_data(data_dir, console, verbose)
        digits = load_split(source, "test")
        data = {**source.describe(), "split": "test"}
    scored = evaluate_model(loaded.predictor, digits.images, digits.labels, batch_size)
    report = build_report(str(loaded.path), data, digits.labels, scored)
    saved = _save_evaluation(report, digits.images, loaded) if loaded.origin != "pretrained" else {}
    if json_output:
        _emit_json({**report.to_json(), "engine": loaded.engine, "origin": loaded.origin, "saved": saved})
        return
    console.print(evaluation_view(report, digits.images, show))
    if saved:
        console.print(f"Saved {', '.join(saved.values())}")
    console.print(f"Engine: {loaded.engine}" + ("; the pretrained model's report is not saved (it has no run folder)" if loaded.origin == "pretrained" else ""))


def _save_evaluation(report, images, loaded) -> dict:
    """eval/ PNGs and metrics.json beside the checkpoint's run, and the same into its TensorBoard logs
    (on the torch engine: TensorBoard's writer comes with torch, which the ONNX path never imports)."""
    from ..inference.evaluation import confusion_png
    from ..imaging import grid_image, save_png
    from ..files import write_json

    checkpoint_path = loaded.path
    run_dir = checkpoint_path.parent.parent if checkpoint_path.parent.name == "checkpoints" else checkpoint_path.parent
    out = run_dir / "eval"
    saved = {}
    confusion_png(report.confusion, out / "confusion.png", f"{loaded.arch or 'model'}: {report.accuracy:.2f}% on {report.count:,} images")
    saved["confusion"] = str(out / "confusion.png")
    wrong = [m["index"] for m in report.misclassified[:100]]
    grid = None
    if wrong:
        grid = grid_image(images[wrong], columns=10, scale=2)
        saved["misclassified"] = str(save_png(grid, out / "misclassified.png"))
    saved["metrics"] = str(write_json(out / "metrics.json", report.to_json()))
    if loaded.engine == "torch":
        from ..training.tensorboard import log_evaluation

        log_evaluation(run_dir, report, grid, step=int(loaded.global_step or 0))
    return saved
