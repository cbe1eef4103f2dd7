"""The toolkit's Python API: everything the `mnist` commands do, callable from a notebook or a script.

The CLI and the server are two front-ends of these functions. Heavy libraries (torch, onnxruntime)
are imported only when a function needs them.

    import mnist_toolkit as mt
    images, labels = mt.load_mnist("test")
    model = mt.load_model()                  # the newest run under runs/, else the pretrained model
    reading = model.read("digit.png")        # Reading(digit, confidence, top_k, box, input)
    report = mt.evaluate(model)              # on the MNIST test set
    result = mt.train(mt.TrainConfig(epochs=1), runs_dir="runs")
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, MnistError

if TYPE_CHECKING:
    from .inference.evaluation import EvalReport
    from .inference.loading import Model, ModelChoice
    from .training.callbacks import TrainCallback
    from .training.config import TrainConfig
    from .training.prepare import RunSetup

PathLike = str | os.PathLike[str]


def load_mnist(split: str = "test", data_dir: PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One MNIST split as numpy arrays, checked against the published checksums.

    Args:
        split: "train" (60,000 digits) or "test" (10,000).
        data_dir: a folder with the four MNIST files; default: $MNIST_DATA_DIR, else data/mnist when
            `mnist download` filled it, else the copy in the package.

    Returns:
        images (N, 28, 28) uint8, white on black; labels (N,) uint8.

    Raises:
        ConfigError: an unknown split.
        IdxFormatError, ChecksumMismatch: damaged files.
    """
    from .data.source import load_split, resolve_source

    if split not in ("train", "test"):
        raise ConfigError(f"unknown split {split!r}: choose train or test")
    digits = load_split(resolve_source(data_dir), split)
    return digits.images, digits.labels


def find_model(source: PathLike | None = None, runs_dir: PathLike = "runs") -> ModelChoice:
    """Which model `source` names, without loading it.

    Args:
        source: None (the newest run under `runs_dir`, else the pretrained model), "pretrained", a run
            folder (its best.pt, else last.pt), a `.pt` checkpoint or an `.onnx` model.

    Raises:
        CheckpointError: a run or checkpoint that is not there.
    """
    from .inference.loading import PRETRAINED_NAME_OPTION, locate

    if source is None:
        return locate(None, None, Path(runs_dir))
    path = Path(source)
    as_run = path.is_dir() or (str(source) == PRETRAINED_NAME_OPTION and not path.exists())  # locate owns "pretrained"
    return locate(path, None, Path(runs_dir)) if as_run else locate(None, path, Path(runs_dir))


def load_model(source: PathLike | None = None, engine: str = "auto", runs_dir: PathLike = "runs", threads: int | None = None,
               not_a_digit: bool = True) -> Model:  # fmt: skip
    """A trained model, ready to read images.

    Args:
        source: see `find_model`.
        engine: "auto" (ONNX Runtime when an up-to-date ONNX model is there), "onnx" or "torch".
        threads: CPU threads for the engine (default: the engine's own choice).
        not_a_digit: check every reading with the "not a digit" detector (`read` raises `NotADigit`
            for ink that does not look like a digit); False reads everything as a digit.

    Raises:
        CheckpointError, ModelFileError: nothing loadable there.
        ConfigError: an unknown engine, or one that cannot read this model.
    """
    from .inference.loading import load_model as load

    return load(find_model(source, runs_dir), engine, threads, not_a_digit)


def evaluate(model: Model, images: np.ndarray | None = None, labels: np.ndarray | None = None,
             data_dir: PathLike | None = None, batch_size: int = 256) -> EvalReport:  # fmt: skip
    """Score a model: accuracy, loss, per-class precision/recall/F1, the confusion matrix, the mistakes.

    Args:
        model: from `load_model`.
        images, labels: (N, 28, 28) uint8 digits and (N,) labels; default: the MNIST test set.
        data_dir: where the MNIST files are, for the default test set.

    Raises:
        ConfigError: images without labels (or the reverse), or arrays that do not match.
    """
    from .data.source import load_split, resolve_source
    from .inference.evaluation import evaluate_digits

    if (images is None) != (labels is None):
        raise ConfigError("images and labels go together", hint="pass both, or neither for the MNIST test set")
    if images is None or labels is None:
        source = resolve_source(data_dir)
        digits = load_split(source, "test")
        return evaluate_digits(model, digits.images, digits.labels, {**source.describe(), "split": "test"}, batch_size)
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8 or labels.shape != (len(images),):
        raise ConfigError(f"expected (N, 28, 28) uint8 images and (N,) labels, got {images.shape} {images.dtype} and {labels.shape}")
    return evaluate_digits(model, images, labels.astype(np.int64), {"source": "arrays", "images": len(images)}, batch_size)


@dataclass(frozen=True)
class TrainResult:
    """A finished training run: where it is, which checkpoint it reports and that checkpoint's test accuracy.

    Attributes:
        run_dir: the run folder (see `RunFolder`).
        checkpoint: the reported checkpoint: best.pt (best validation accuracy) with a validation
            set, else last.pt.
        reported: "best" or "last".
        test_accuracy, test_loss: measured on the reported checkpoint's weights.
        onnx: its ONNX model beside it, when written.
        summary: the `mnist train --json` document (config, history, timings, ...).
    """

    run_dir: Path
    checkpoint: Path
    reported: str
    test_accuracy: float
    test_loss: float
    onnx: Path | None
    summary: dict[str, Any]


def train(config: TrainConfig | None = None, runs_dir: PathLike | None = None, *, resume: PathLike | None = None,
          callbacks: Iterable[TrainCallback] | Callable[[RunSetup], Iterable[TrainCallback]] = (),
          tensorboard: bool = True, onnx: bool = True, **prepare: Any) -> TrainResult:  # fmt: skip
    """Train a network on MNIST, as `mnist train` does: a new run folder under `runs_dir`, a checkpoint
    every epoch, the test set scored after every epoch, TensorBoard logs and the reported checkpoint's
    ONNX model.

    Args:
        config: what to train and how (default: `TrainConfig()`); its `runs_dir` unless `runs_dir` is given.
        resume: a run folder (or its checkpoint) to continue instead; `config` must then be None.
        callbacks: progress callbacks (each a `TrainCallback`), or a function making them for the run.
        tensorboard: write TensorBoard logs into the run folder.
        onnx: write the reported checkpoint's ONNX model beside it (a failed export is a warning).
        prepare: passed on to `training.prepare.prepare_run` (overrides, stop_event, dist, ...).

    Raises:
        ConfigError, CheckpointError, MnistError: bad options, an unusable checkpoint or data.
        TrainingInterrupted: a stop event was set; the checkpoint to resume from is saved.
    """
    from .training.config import TrainConfig as Config, validate
    from .training.prepare import export_onnx_or_warning, prepare_run, run_summary

    if resume is not None and config is not None:
        raise ConfigError("resume continues a run as it was configured; pass no config with it",
                          hint="to train on from its weights with other settings, set TrainConfig(init_from=...)")  # fmt: skip
    if resume is None:
        config = config or Config()
        config = validate(replace(config, runs_dir=str(runs_dir)) if runs_dir is not None else config)

    def make_callbacks(run: RunSetup) -> list[TrainCallback]:
        made = list(callbacks(run) if callable(callbacks) else callbacks)
        if tensorboard:
            from .training.tensorboard import TensorBoardCallback

            made.append(TensorBoardCallback(run.run_dir, run.data, run.config.to_dict()))
        return made

    prepared = prepare_run(config, Path(resume) if resume is not None else None, callbacks=make_callbacks, **prepare)
    result = prepared.trainer.fit()
    summary = run_summary(prepared, result)
    onnx_path = None
    if onnx and prepared.trainer.dist.is_main:
        onnx_path, warning = export_onnx_or_warning(prepared, result)
        if warning:  # the run is saved; only its ONNX copy is missing
            warnings.warn(warning, RuntimeWarning, stacklevel=2)
    summary["onnx"] = str(onnx_path) if onnx_path else None
    reported, checkpoint, accuracy, loss = result.reported
    if checkpoint is None:  # no epoch ran: the run had finished already
        raise MnistError(f"{prepared.run_dir} already finished its {prepared.trainer.config.epochs} epochs",
                         hint="resume it with a larger TrainConfig epochs, or train a new run")  # fmt: skip
    return TrainResult(prepared.run_dir, Path(checkpoint), reported, float(accuracy), float(loss), onnx_path, summary)
