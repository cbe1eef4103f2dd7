"""Setting up a training run: its folder, config.json, data, model and optimizer, or a resumed one."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..data.source import resolve_source
from ..files import write_json
from ..runs import RunFolder, checkpoint_of, create_named_run_dir, create_run_dir, environment
from .callbacks import FitResult, TrainCallback
from .config import TrainConfig, validate
from .devices import resolve_device
from .distributed import DistContext, broadcast
from .optim import optimizer_info
from .resume import InitialWeights, resume_config
from .split import TrainData, prepare_data
from .trainer import Trainer, check_setup

if TYPE_CHECKING:
    from ..inference.export import ExportResult


@dataclass(frozen=True)
class RunSetup:
    """What a run's callbacks are made from, before its Trainer is built (the Trainer gets them at construction)."""

    run_dir: Path
    config: TrainConfig
    data: TrainData


#: (the run about to train) -> its callbacks.
CallbackFactory = Callable[[RunSetup], Iterable[TrainCallback]]


@dataclass
class PreparedRun:
    """A trainer ready to `fit`, with where it writes."""

    trainer: Trainer
    run_dir: Path
    resumed_from: Path | None
    data_source: dict


def run_label(config: TrainConfig) -> str:
    """`<arch>_<optimizer>[_<name>]`, the part of a run folder's name after the timestamp."""
    label = f"{config.arch}_{config.optimizer}"
    if config.name:
        label += "_" + "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in config.name)
    return label


def check_run(config: TrainConfig) -> torch.device:
    """Check a run's settings as far as they can be without its data or its folder; returns its device.

    The option ranges and names (`validate`), the device, and the network (built on the meta device).

    Raises:
        ConfigError, UnknownName: an invalid setting, an unavailable device, a network that cannot be built.
    """
    validate(config)
    device = resolve_device(config.device)
    check_setup(config, device)
    return device


def check_runs(configs: Iterable[TrainConfig]) -> None:
    """`check_run` of every run a command is about to start, before it creates any folder for them."""
    for config in configs:
        check_run(config)


def prepare_run(config: TrainConfig | None, resume: Path | None = None, overrides: dict | None = None,
                run_dir: Path | None = None, dist: DistContext | None = None,
                config_file: str | Path | None = None, callbacks: CallbackFactory | None = None,
                stop_event: threading.Event | None = None) -> PreparedRun:  # fmt: skip
    """Create (or reopen, when resuming) the run folder, load the data and build the trainer.

    A new run folder is created only once the options are checked (`check_run`), the data is loaded
    and the weights to start from are read; should building the trainer still fail, the folder is
    removed again, so a run that cannot start leaves nothing behind. `run_dir`, when given, is the
    exact (new) folder to use instead of `runs_dir/<timestamp>_<label>`. The trainer is built
    complete: with the callbacks `callbacks` makes for this run, `stop_event`, and the checkpoint it
    resumes or the weights it starts from (`config.init_from`).

    Raises:
        ConfigError, CheckpointError, MnistError: bad options, an unusable checkpoint or data.
    """
    dist = dist or DistContext()
    payload = checkpoint = None
    if resume is not None:
        checkpoint = checkpoint_of(resume, prefer_best=False)
        config, payload = resume_config(checkpoint, overrides or {}, config_file)
        run_dir = RunFolder.of_checkpoint(checkpoint).path
    device = check_run(config)
    if dist.enabled:
        if device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
        if config.threads is None:  # N processes share the cores
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.local_world_size))
    source = resolve_source(config.data_dir)
    data = prepare_data(config, source, device)
    initial_weights = InitialWeights.load(config.init_from) if payload is None and config.init_from is not None else None
    created = None  # the run folder made here, removed again should the trainer fail to build
    if resume is None:
        if dist.is_main:  # one folder for the whole group, made by rank 0
            run_dir = created = create_named_run_dir(run_dir) if run_dir is not None else create_run_dir(config.runs_dir, run_label(config))
        run_dir = Path(broadcast(dist, str(run_dir) if dist.is_main else None))
    try:
        made = callbacks(RunSetup(run_dir, config, data)) if callbacks is not None else ()
        trainer = Trainer(config, data, device, run_dir, made, stop_event, dist, initial_weights=initial_weights, resume_from=payload)
        if dist.is_main:
            _write_config(trainer, checkpoint)
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    return PreparedRun(trainer, run_dir, checkpoint, data.source)


def _write_config(trainer: Trainer, resumed_from: Path | None) -> None:
    """The run folder's config.json: the config, what its defaults resolved to, the data and the environment."""
    config, data, dist = trainer.config, trainer.data, trainer.dist
    info = optimizer_info(config.optimizer)
    write_json(RunFolder(trainer.run_dir).config_file, {
        "config": config.to_dict(),
        "resolved": {
            "lr": trainer.lr,
            "momentum": info.default_momentum if config.momentum is None else config.momentum,
            "device": str(trainer.device),
            "precision": f"{str(trainer.amp).removeprefix('torch.')} autocast" if trainer.amp is not None else "float32",
            "channels_last": trainer.channels_last,
            "params": trainer.params,
            "train_images": len(data.train_y),
            "val_images": len(data.val_y),
            "test_images": len(data.test_y),
            "steps_per_epoch": trainer.steps_per_epoch,
            "resumed_from": str(resumed_from) if resumed_from else None,
            "init_from": config.init_from,
            "schedule_change": trainer.schedule_change.describe() if trainer.schedule_change else None,
            "world_size": dist.world_size,
        },
        "data": data.source,
        "environment": environment(),
    })  # fmt: skip


def run_summary(prepared: PreparedRun, result: FitResult) -> dict:
    """The `train --json` document. `checkpoint` and `test_accuracy` belong together: `mnist evaluate
    --checkpoint` of that file measures that accuracy (best.pt with a validation set, else last.pt)."""
    trainer = prepared.trainer
    reported, checkpoint, accuracy, loss = result.reported
    last = result.history[-1] if result.history else None
    return {
        "run_dir": str(prepared.run_dir),
        "checkpoint": str(checkpoint),
        "reported": reported,
        "test_accuracy": accuracy,
        "test_loss": loss,
        "last": {"checkpoint": str(result.last_checkpoint), "epoch": last.epoch if last else None,
                 "test_accuracy": result.test_accuracy, "test_loss": result.test_loss},
        "best": None if result.best_checkpoint is None else {
            "checkpoint": str(result.best_checkpoint), "epoch": result.best_epoch, "val_accuracy": result.best_val_accuracy,
            "test_accuracy": result.best_test_accuracy, "test_loss": result.best_test_loss},
        "last_checkpoint": str(result.last_checkpoint),
        "best_checkpoint": str(result.best_checkpoint) if result.best_checkpoint else None,
        "config": trainer.config.to_dict(),
        "params": trainer.params,
        "device": str(trainer.device),
        "data": prepared.data_source,
        "history": [asdict(r) for r in result.history],
        "train_seconds": result.train_seconds,
        "images_per_second": result.images_per_second,
        "stopped_early": result.stopped_early,
        "steps": trainer.state.global_step,
        "schedule_change": trainer.schedule_change.describe() if trainer.schedule_change else None,
    }


def export_reported_onnx(prepared: PreparedRun, result: FitResult) -> ExportResult | None:
    """Write the ONNX model of the checkpoint the run reports, beside it (`best.onnx` or `last.onnx`).

    Checked against torch on the first `CHECK_DIGITS` test digits before it is written. Returns the
    `ExportResult`, or None when the run has no reported checkpoint.

    Raises:
        MnistError: the export failed or disagreed with torch (the checkpoint itself is unaffected).
    """
    from ..inference.checkpoint import load_checkpoint
    from ..inference.export import CHECK_DIGITS, export_model

    _, checkpoint, _, _ = result.reported
    if checkpoint is None or not Path(checkpoint).is_file():
        return None
    test_images = prepared.trainer.data.test_x[:CHECK_DIGITS].cpu().numpy()
    return export_model(load_checkpoint(checkpoint), str(prepared.run_dir), "onnx", RunFolder.onnx_of(Path(checkpoint)), test_images)


def start_reported_onnx_export(prepared: PreparedRun, result: FitResult) -> tuple[Path | None, str | None]:
    """Start writing the reported checkpoint's ONNX model in a separate process (see
    `inference.background_export`): (where it will be, None), or (None, why not) when it could not be
    started, or (None, None) when the run has no reported checkpoint. A failure of the export itself
    comes back later, as the loader's note."""
    from ..inference.background_export import start
    from ..inference.export import CHECK_DIGITS

    _, checkpoint, _, _ = result.reported
    if checkpoint is None or not Path(checkpoint).is_file():
        return None, None
    try:
        return start(Path(checkpoint), prepared.trainer.data.test_x[:CHECK_DIGITS].cpu().numpy()), None
    except OSError as exc:
        return None, f"no ONNX model written: the export could not be started ({exc.strerror or exc}); `mnist export` writes it"


def export_onnx_or_warning(prepared: PreparedRun, result: FitResult) -> tuple[Path | None, str | None]:
    """(the ONNX model written, None) or (None, why not): a failed export is a warning, never a lost run."""
    from ..errors import MnistError

    try:
        exported = export_reported_onnx(prepared, result)
    except MnistError as exc:
        return None, f"no ONNX model written: {exc.message}"
    except Exception as exc:  # an exporter that cannot handle this network: the run itself stands
        return None, (f"no ONNX model written ({type(exc).__name__}: {str(exc)[:200]}); "
                      "the checkpoint is unaffected and `mnist predict` uses it on the torch engine")  # fmt: skip
    if exported:
        from ..inference.background_export import error_of

        error_of(exported.path).unlink(missing_ok=True)  # an earlier export's failure is history now
    return (exported.path if exported else None), None
