"""`mnist train`: train a network on MNIST (its options are declared in `cli/train_options.py`)."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import typer

from ..errors import ConfigError, MnistError
from . import app
from .options import _emit_json, _warn_fallback
from .train_options import config_options, with_train_options


@app.command()
@with_train_options(config_only=False)
def train(train_options: dict, *, config_file, resume, init_from, nproc, log_every, quiet, onnx, wait_for_onnx, json_output, verbose) -> None:
    """Train a network on MNIST, scoring the test set after every epoch; logs to TensorBoard under runs/."""
    options = config_options(train_options)
    from ..training.config import build_train_config

    if resume is not None and init_from is not None:
        raise ConfigError("--resume and --init-from exclude each other", hint="--resume continues a run; --init-from starts a new one from its weights")
    config = None if resume is not None else build_train_config(options, config_file)  # checked before any process starts
    if nproc is not None and "WORLD_SIZE" not in os.environ:
        from ..training.distributed import launch

        raise typer.Exit(launch(nproc, _argv_without_nproc(sys.argv[1:])))
    from ..training.distributed import from_environment, init_group, shutdown
    from ..reporting.console import make_console

    dist = from_environment()
    console = make_console(json_output) if dist.is_main else make_console(True, quiet=True)
    if init_from is not None:
        from ..training.config import load_toml
        from ..training.resume import init_from_config
        from ..runs import checkpoint_of

        config = init_from_config(config, options, load_toml(config_file) if config_file else {}, checkpoint_of(init_from))
    if dist.enabled:
        from ..training.devices import resolve_device

        init_group(dist, resolve_device((config.device if config else options.get("device")) or "auto").type)
    finished = False
    try:
        reporting = "none" if json_output or quiet else ("live" if console.is_terminal else "lines")
        _train_in_process(config, resume, options, dist, console, TrainReporting(reporting, log_every, json_output, verbose, onnx, wait_for_onnx), config_file)
        finished = True
    except typer.Exit as stopped:
        finished = stopped.exit_code == 130  # interrupted, its checkpoint saved by every rank together
        raise
    finally:
        shutdown(wait_for_peers=finished)


def _argv_without_nproc(argv: list[str]) -> list[str]:
    """The command line minus `--nproc N` / `--nproc=N`, for the processes torchrun starts."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


@dataclass(frozen=True)
class TrainReporting:
    """How `mnist train` reports: `live` (terminal), `lines` (pipe, file, CI) or `none` (--quiet, --json)."""

    progress: str
    log_every: int
    json_output: bool
    verbose: bool
    onnx: bool = True  # write the ONNX model of the reported checkpoint beside it
    wait_for_onnx: bool = False  # write it before exiting, not in a background process


def _train_in_process(config, resume, options, dist, console, reporting: TrainReporting, config_file=None) -> None:
    """One process's share of `mnist train` (the only one, or one rank of a torchrun group)."""
    from ..training.prepare import prepare_run, run_summary
    from ..training.signals import TrainingInterrupted, stop_on_signals

    stop_event = threading.Event()  # SIGINT/SIGTERM set it once training runs
    callbacks = _callbacks(console, reporting) if dist.is_main else None  # rank 0 alone prints and logs
    prepared = prepare_run(config, resume, options, dist=dist, config_file=config_file, callbacks=callbacks, stop_event=stop_event)
    trainer = prepared.trainer
    _warn_fallback(console, prepared.data_source.get("fallback_reason"))
    if reporting.verbose or resume is not None:
        what = f"Resuming {prepared.resumed_from} at epoch {trainer.state.epoch + 1}, step {trainer.state.global_step}" if resume else "Run"
        console.print(f"{what}: {prepared.run_dir}  ({trainer.params:,} parameters, {trainer.device}, data: {prepared.data_source['source']})")
    if trainer.config.init_from and (reporting.verbose or not reporting.json_output):
        console.print(f"Starting from the weights of {trainer.config.init_from}")
    if trainer.schedule_change is not None:
        console.print(f"[yellow]Note:[/yellow] {trainer.schedule_change.describe()}")
    if trainer.state.epoch >= trainer.config.epochs:
        raise MnistError(f"{prepared.run_dir} already finished its {trainer.config.epochs} epochs", hint="pass --epochs N with a larger N to train further")
    with stop_on_signals(event=stop_event):
        try:
            result = trainer.fit()
        except TrainingInterrupted as exc:
            console.print(f"[yellow]Interrupted: checkpoint saved to {exc.checkpoint}[/yellow]")
            console.print(f"Resume with: mnist train --resume {prepared.run_dir}")
            raise typer.Exit(130) from None
    if not dist.is_main:
        return
    summary = run_summary(prepared, result)
    summary["onnx"] = _export_onnx(prepared, result, console, reporting.wait_for_onnx) if reporting.onnx else None
    summary["onnx_in_background"] = bool(summary["onnx"]) and not reporting.wait_for_onnx
    if reporting.json_output:
        _emit_json(summary)
        return
    if reporting.progress == "lines":
        from ..reporting.training import history_table

        console.print(history_table(result.history, f"Training {prepared.run_dir.name}"))
    console.print(result_lines(summary))
    if summary["onnx_in_background"]:
        console.print(f"ONNX model: {summary['onnx']} (being written by a background process; mnist predict and evaluate wait for it)")
    elif summary["onnx"]:
        console.print(f"ONNX model: {summary['onnx']} (mnist predict and evaluate use it on ONNX Runtime)")
    console.print(f"Run folder: {prepared.run_dir}")
    console.print(f"TensorBoard: tensorboard --logdir {Path(trainer.config.runs_dir)}")


def _callbacks(console, reporting: TrainReporting):
    """The callback factory of `prepare_run`: progress as `reporting` says, and TensorBoard in the run folder."""
    from ..reporting.training import ConsoleCallback, LineCallback
    from ..training.tensorboard import TensorBoardCallback

    def make(run) -> list:
        progress = {
            "live": lambda: [ConsoleCallback(console, f"Training {run.run_dir.name}")],
            "lines": lambda: [LineCallback(sys.stdout, reporting.log_every)],
            "none": lambda: [],
        }[reporting.progress]()
        return [*progress, TensorBoardCallback(run.run_dir, run.data, run.config.to_dict())]

    return make


def _export_onnx(prepared, result, console, wait: bool) -> str | None:
    """The reported checkpoint's ONNX model, beside it: started in a background process (its failure
    is the loader's note later), or with `wait` written now (a failure is a warning, never a lost run)."""
    from ..training.prepare import export_onnx_or_warning, start_reported_onnx_export

    path, warning = export_onnx_or_warning(prepared, result) if wait else start_reported_onnx_export(prepared, result)
    if warning:
        console.print(f"[yellow]Warning: {warning}[/yellow]")
    return str(path) if path else None


def result_lines(summary: dict) -> str:
    """Which checkpoint the reported test accuracy belongs to, and the other one's beside it."""
    speed = f"({summary['train_seconds']:.1f} s training, {summary['images_per_second']:,.0f} images/s)"
    last, best = summary["last"], summary["best"]
    if summary["reported"] == "best":
        return (f"Test accuracy {best['test_accuracy']:.2f}%  loss {best['test_loss']:.4f}  of {best['checkpoint']} "
                f"(epoch {best['epoch']}, best validation accuracy {best['val_accuracy']:.2f}%)\n"
                f"Last epoch ({last['epoch']}): test accuracy {last['test_accuracy']:.2f}%  of {last['checkpoint']}  {speed}")  # fmt: skip
    return f"Test accuracy {last['test_accuracy']:.2f}%  loss {last['test_loss']:.4f}  of {last['checkpoint']} (last epoch)  {speed}"
