"""Options and helpers that several `mnist` commands share: the data folder, --json, --verbose, the
checkpoint choice (--run / --checkpoint / --runs-dir), one JSON document on stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


DataDirOption = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir",
        envvar="MNIST_DATA_DIR",
        help="Folder with the four MNIST files (raw or .gz); default: data/mnist when `mnist download` filled it, else the embedded copy (also used when a folder is not valid).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Say which data is used and more.")]

RunOption = Annotated[Optional[Path], typer.Option("--run", help="A run folder (its best.pt, else last.pt), or 'pretrained' for the model in the package; default: the newest `mnist train` run, else the pretrained model (`mnist runs` shows which).", show_default=False)]
CheckpointOption = Annotated[Optional[Path], typer.Option("--checkpoint", help="A checkpoint (.pt) or an exported model (.onnx).", show_default=False)]
RunsDirOption = Annotated[Path, typer.Option("--runs-dir", help="Where to look for the newest run.")]
EngineOption = Annotated[str, typer.Option("--engine", help="auto (ONNX Runtime when an ONNX model of the checkpoint is there) | onnx | torch.")]
NoDigitCheckOption = Annotated[bool, typer.Option("--no-digit-check", help="Read every image as a digit: no \"not a digit\" refusals.")]


def _emit_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


class _JsonListWriter:
    """One JSON list on stdout, written item by item (the same text as `_emit_json` of the whole list),
    so that a long list is never held in memory."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, items: list) -> None:
        for item in items:
            text = json.dumps(item, indent=2, default=str).replace("\n", "\n  ")
            sys.stdout.write(("[\n  " if self.count == 0 else ",\n  ") + text)
            self.count += 1
        sys.stdout.flush()

    def close(self) -> None:
        sys.stdout.write("[]\n" if self.count == 0 else "\n]\n")
        sys.stdout.flush()


def _warn_fallback(console, reason: Optional[str]) -> None:
    """Say that a data folder (--data-dir, MNIST_DATA_DIR or data/mnist) was passed over, and why."""
    if reason:
        from rich.markup import escape

        console.print(f"[yellow]Warning: data dir not used ({escape(reason)}); using the embedded copy.[/yellow]")


def _resolve_data(data_dir: Optional[Path], console, verbose: bool):
    """Resolve the data set; warn when a named folder was passed over; say which copy is used when `verbose`."""
    from ..data.source import SOURCE_KINDS, resolve_source

    source = resolve_source(data_dir)
    _warn_fallback(console, source.fallback_reason)
    if verbose:
        console.print(f"Data: {SOURCE_KINDS[source.kind]} ({source.kind}), {source.root}", markup=False)
    return source


def _open_model(run: Optional[Path], checkpoint: Optional[Path], runs_dir: Path, engine: str, console=None, verbose: bool = False,
                digit_check: bool = True):  # fmt: skip
    """The model --checkpoint, --run, the newest run or the package's pretrained model names, on `engine`;
    with `digit_check`, its readings are checked by the "not a digit" detector.

    Always says which model and engine answer (on `console`, stderr for the commands), so that a new
    run taking over as the default never goes unnoticed.
    """
    from ..inference.loading import export_under_way, load_model, locate

    choice = locate(run, checkpoint, runs_dir)
    if console is not None and export_under_way(choice, engine):  # load_model waits for it: say why nothing happens
        console.print(f"Waiting for the ONNX export after training ({choice.onnx.name}; --engine torch does not wait)...",
                      soft_wrap=True, markup=False, highlight=False)  # fmt: skip
    loaded = load_model(choice, engine, not_a_digit=digit_check)
    if console is not None:
        if loaded.origin == "pretrained":
            what = "the pretrained model in the package" + (f" (no run under {runs_dir})" if run is None and checkpoint is None else "")
        else:
            what = f"{loaded.path} ({loaded.origin})"
        accuracy = f", test accuracy {loaded.test_accuracy:.2f}%" if loaded.test_accuracy is not None else ""
        # no temperature: the percentages are the network's own (too low after label smoothing, e.g.)
        uncalibrated = ", confidence uncalibrated (no temperature fitted; train with --val-size)" if loaded.calibration is None else ""
        unchecked = ', no "not a digit" check' if not digit_check else ""
        line = f"Model: {what} on the {loaded.engine} engine{accuracy}{uncalibrated}{unchecked}" + (f" ({loaded.note})" if loaded.note else "")
        console.print(line, soft_wrap=True, markup=False, highlight=False)  # one line, however long the path
    return loaded
