"""`mnist predict`: read digits from your own images."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import CheckpointOption, EngineOption, JsonOption, RunOption, RunsDirOption, VerboseOption, _emit_json, _open_model


@app.command()
def predict(
    paths: Annotated[list[str], typer.Argument(help="Image files, folders (searched recursively), glob patterns, or - for stdin.", show_default=False)],
    run: RunOption = None,
    checkpoint: CheckpointOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=10, help="How many likely digits to list.")] = 3,
    show: Annotated[bool, typer.Option("--show", help="Draw the 28x28 input the model saw next to each answer.")] = False,
    save_preprocessed: Annotated[Optional[Path], typer.Option(help="Write each 28x28 model input as PNG into this folder.", show_default=False)] = None,
    number: Annotated[bool, typer.Option("--number", help="Read every digit of each image, left to right (a written number).")] = False,
    engine: EngineOption = "auto",
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Read digits from your own images (PNG, JPEG, BMP, GIF, TIFF, WebP), preprocessed as MNIST was."""
    from ..inference.predict import MISSING, predict_rows, prepare_inputs, save_inputs
    from ..reading.prepare import ImageError
    from ..reporting.console import make_console
    from ..reporting.evaluation import predictions_table

    console = make_console(json_output)
    loaded = _open_model(run, checkpoint, runs_dir, engine, make_console(True), verbose)
    rows = prepare_inputs(paths, number=number)
    predict_rows(loaded.predictor, rows, top_k)
    several = [row.file for row in rows if row.prepared is not None and row.prepared.digits_seen > 1]
    if several:
        print(f"Warning: {', '.join(several)}: several separated digits seen; read as one digit. Hint: pass --number to read them all.", file=sys.stderr)
    cut = sorted({row.file for row in rows for part in (row.parts or []) if part.prepared is not None and part.prepared.cut_from > 1})
    if cut:
        print(f"Warning: {', '.join(cut)}: touching digits were cut apart where the ink is thinnest; check the number.", file=sys.stderr)
    if save_preprocessed is not None:
        save_inputs(rows, save_preprocessed)
    if json_output:
        model = {"engine": loaded.engine, "model": str(loaded.path), "origin": loaded.origin}
        _emit_json([{**row.to_json(), **model} for row in rows])
    else:
        console.print(predictions_table(rows, show=show, number=number))
    failed = [row for row in rows if row.error]
    if failed:
        where = "their error fields" if json_output else "the table"
        missing = sum(1 for row in failed if row.error and row.error.endswith(MISSING))
        hint = {len(failed): "check the file names (folders are searched for images; quote glob patterns)",
                0: "use images of a single digit in a common format"}.get(missing, "check the file names, and use images of a single digit in a common format")  # fmt: skip
        raise ImageError(f"{len(failed)} of {len(rows)} input(s) could not be read; see {where}", hint=hint)
