"""`mnist export`: a checkpoint as ONNX (for ONNX Runtime) or pt2 (`torch.export`), checked before it is written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import CheckpointOption, JsonOption, RunOption, RunsDirOption, _emit_json


@app.command()
def export(
    run: RunOption = None,
    checkpoint: CheckpointOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    fmt: Annotated[str, typer.Option("--format", help="onnx (ONNX Runtime) | pt2 (torch.export, for PyTorch deployment).")] = "onnx",
    out: Annotated[Optional[Path], typer.Option("--out", help="The file to write; default: beside the checkpoint (best.onnx, last.pt2, ...).", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Export a trained model for deployment; torch and the export must agree on 1,000 test digits first."""
    from ..errors import CheckpointError, ConfigError
    from ..inference.export import export_checkpoint, export_format
    from ..inference.loading import locate
    from ..reporting.console import make_console

    export_format(fmt)  # an unknown format fails before anything is loaded
    choice = locate(run, checkpoint, runs_dir)
    if choice.checkpoint is None:
        raise ConfigError(f"{choice.onnx} is already an exported model", hint="export from a run or a .pt checkpoint")
    if choice.origin == "pretrained" and out is None:
        raise CheckpointError("there is no run to export, only the pretrained model in the package",
                          hint="pass --out FILE to export the pretrained model, or --run DIR")  # fmt: skip
    result = export_checkpoint(choice.checkpoint, fmt, out)
    if json_output:
        _emit_json({**result.to_json(), "checkpoint": str(choice.checkpoint), "origin": choice.origin})
        return
    console = make_console()
    console.print(f"Wrote {result.path} ({result.bytes / 1e6:.2f} MB, {result.format} via {result.exporter}, {result.seconds:.1f} s)")
    console.print(f"Checked on {result.checked:,} test digits: the same answer on {result.agree:,}; "
                  f"max logit difference {result.max_logit_difference:.2g}")  # fmt: skip
    if result.metadata.get("test_accuracy") is not None:
        console.print(f"Model: {result.metadata['arch']} from {choice.checkpoint}, test accuracy {result.metadata['test_accuracy']:.2f}%")
