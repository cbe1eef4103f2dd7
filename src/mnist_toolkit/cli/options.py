"""Options and helpers that several `mnist` commands share: the data folder, --json, --verbose, the
checkpoint choice (--run / --checkpoint / --runs-dir), one JSON document on stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import ConfigError

DataDirOption = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir",
        envvar="MNIST_DATA_DIR",
        help="Folder with the four MNIST files (raw or .gz); the embedded copy is used when it is not valid.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Say which data is used and more.")]

RunOption = Annotated[Optional[Path], typer.Option("--run", help="A run folder (its best.pt, else last.pt); default: the newest run.", show_default=False)]
CheckpointOption = Annotated[Optional[Path], typer.Option("--checkpoint", help="A checkpoint file.", show_default=False)]
RunsDirOption = Annotated[Path, typer.Option("--runs-dir", help="Where to look for the newest run.")]


def _emit_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _warn_fallback(console, reason: Optional[str]) -> None:
    """Say that a given data folder was passed over, and why."""
    if reason:
        console.print(f"[yellow]Warning: data dir not used ({reason}); using the embedded copy.[/yellow]")


def _resolve_data(data_dir: Optional[Path], console, verbose: bool):
    """Resolve the data set; warn when a given folder was passed over."""
    from ..data import resolve_source

    source = resolve_source(data_dir)
    _warn_fallback(console, source.fallback_reason)
    if verbose:
        console.print(f"Data: {source.kind} copy in {source.root}")
    return source


def _load_model_for(run: Optional[Path], checkpoint: Optional[Path], runs_dir: Path):
    """The checkpoint chosen by --checkpoint, --run, or the newest run; returns (path, payload, model)."""
    from ..checkpoint import load_checkpoint, rebuild_model
    from ..runs import checkpoint_of, newest_run

    if run is not None and checkpoint is not None:
        raise ConfigError("--run and --checkpoint exclude each other", hint="pass one of them")
    if checkpoint is not None:
        path = checkpoint
    else:
        path = checkpoint_of(run if run is not None else newest_run(runs_dir), prefer_best=True)
    payload = load_checkpoint(path)
    return path, payload, rebuild_model(payload)
