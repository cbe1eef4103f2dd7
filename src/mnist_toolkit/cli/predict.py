"""`mnist predict`: read digits from your own images."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import CheckpointOption, EngineOption, JsonOption, NoDigitCheckOption, RunOption, RunsDirOption, VerboseOption, _JsonListWriter, _open_model


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
    no_digit_check: NoDigitCheckOption = False,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Read digits from your own images (PNG, JPEG, BMP, GIF, TIFF, WebP), preprocessed as MNIST was."""
    from ..inference.predict import MISSING, predict_in_batches, save_inputs
    from ..reading.prepare import ImageError
    from ..reporting.console import make_console
    from ..reporting.evaluation import PredictionsReport

    console = make_console(json_output)
    loaded = _open_model(run, checkpoint, runs_dir, engine, make_console(True), verbose, digit_check=not no_digit_check)
    model = {"engine": loaded.engine, "model": str(loaded.path), "origin": loaded.origin}
    report, listing = (None, _JsonListWriter()) if json_output else (PredictionsReport(show=show, number=number), None)
    several, cut, saved_names = [], set(), {}
    total = failed = missing = refused = 0
    for rows in predict_in_batches(loaded.predictor, paths, number=number, top_k=top_k, detector=loaded.detector):  # each batch rendered, then let go
        several += [row.file for row in rows if row.prepared is not None and row.prepared.digits_seen > 1]
        cut |= {row.file for row in rows for part in (row.parts or []) if part.prepared is not None and part.prepared.cut_from > 1}
        if save_preprocessed is not None:
            save_inputs(rows, save_preprocessed, saved_names)
        if listing is not None:
            listing.write([{**row.to_json(), **model} for row in rows])
        else:
            report.add(rows)
        total += len(rows)
        failed += sum(1 for row in rows if row.error)
        missing += sum(1 for row in rows if row.error and row.error.endswith(MISSING))
        refused += sum(1 for row in rows if row.refused_as_not_a_digit)
    if listing is not None:
        listing.close()
    if several:
        print(f"Warning: {', '.join(several)}: several separated digits seen; read as one digit. Hint: pass --number to read them all.", file=sys.stderr)
    if cut:
        print(f"Warning: {', '.join(sorted(cut))}: touching digits were cut apart where the ink is thinnest; check the number.", file=sys.stderr)
    if report is not None:
        console.print(report.render())
    if failed:
        where = "their error fields" if json_output else "the table"
        others = failed - refused  # failures other than "not a digit": missing files, unreadable images, no digit found
        if not others:
            hint = ""
        elif missing == others:
            hint = "check the file names (folders are searched for images; quote glob patterns)"
        else:
            hint = "check the file names, and use images of a single digit in a common format" if missing else "use images of a single digit in a common format"
        if refused:
            anyway = "if a refused image does hold a digit, --no-digit-check reads it anyway"
            hint = f"{hint}; {anyway}" if hint else anyway
        raise ImageError(f"{failed} of {total} input(s) could not be read; see {where}", hint=hint)
