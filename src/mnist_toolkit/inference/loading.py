"""Which model a command uses, and on which engine.

The model is the one named by `--checkpoint` (a `.pt` checkpoint or an exported `.onnx`), by `--run`,
the newest run under the runs folder, or, when there is no run at all, the pretrained model shipped in
the package. The engine is `torch`, `onnx`, or `auto`: ONNX Runtime whenever an ONNX model of that
checkpoint is there and not older than it. Nothing here imports torch unless the torch engine is chosen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError, ModelFileError
from ..reading.prepare import ImageLike, open_image, prepare, prepare_number
from ..runs import RunFolder
from .answers import NotADigit, NumberReading, Reading, read_inputs
from .calibration import Calibration

ENGINES = ("auto", "onnx", "torch")
PRETRAINED_DIR = Path(__file__).parent.parent / "pretrained"
PRETRAINED_NAME = "robust"
#: `--run pretrained` (or load_model("pretrained")) names the model in the package, whatever runs exist.
PRETRAINED_NAME_OPTION = "pretrained"


@dataclass(frozen=True)
class ModelChoice:
    """A model found on disk, before an engine is chosen."""

    origin: str  # checkpoint | run | newest run | pretrained
    checkpoint: Path | None  # the torch checkpoint, if any
    onnx: Path | None  # its ONNX model (beside it, or given), if any


@dataclass
class Model:
    """A trained model ready to read digits, on one engine, with what a report needs to say about it.

    Get one with `load_model`. `read` and `read_number` take an image of any kind (a path, bytes, a PIL
    image or a numpy array) and prepare it as `mnist predict` does; `predict_proba` and `logits` take
    digits already prepared: (N, 28, 28) uint8, white on black, as in MNIST.
    """

    predictor: Any  # OnnxModel or TorchModel: logits(images) -> (N, 10)
    engine: str  # onnx | torch
    origin: str  # checkpoint | run | newest run | pretrained
    path: Path  # the file actually read
    checkpoint: Path | None
    test_accuracy: float | None
    note: str | None = None  # why auto chose what it chose, when that is not obvious
    arch: str | None = None
    global_step: int | None = None  # the training step the weights come from
    #: The "not a digit" detector (`digitness.DigitnessDetector`) its readings are checked with: the one
    #: shipped in the package by default; None reads everything as a digit.
    detector: Any = None

    def describe(self) -> dict:
        """{engine, model, origin, checkpoint, test_accuracy, temperature}."""
        return {"engine": self.engine, "model": str(self.path), "origin": self.origin,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None, "test_accuracy": self.test_accuracy,
                "temperature": self.calibration.temperature if self.calibration else None}  # fmt: skip

    @property
    def calibration(self) -> Calibration | None:
        """The temperature fitted on the validation split when the model was trained (None: its
        confidence is uncalibrated, e.g. a run trained without a validation split)."""
        return self.predictor.calibration

    def logits(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, 28, 28) uint8 prepared digits -> (N, 10) float32 logits, as the network gives them
        (before calibration: divide by `calibration.temperature` for calibrated ones)."""
        return self.predictor.logits(_digits(images), batch_size)

    def predict_proba(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, 28, 28) uint8 prepared digits (or one (28, 28) digit) -> (N, 10) calibrated probabilities."""
        return self.predictor.predict_proba(_digits(images), batch_size)

    def readings(self, images: np.ndarray, boxes: list | None = None, top_k: int = 3, check: bool = True, contexts: list | None = None) -> list[Reading]:
        """One `Reading` per (N, 28, 28) uint8 prepared input, calibrated and checked by `detector`
        (a refused one has `refusal` set and keeps its best guess); with `check` False, not checked.
        `contexts`: the inputs' `Prepared.context` views, when they come from images (the detector
        sees what lies around the ink); without, each input is taken as an image of its own."""
        images = _digits(images)
        return read_inputs(self.predictor, images, boxes or [None] * len(images), top_k, self.detector if check else None, contexts)

    def read(self, image: ImageLike, top_k: int = 3) -> Reading:
        """The digit in an image (the one with the most ink when there are several).

        Raises:
            ImageError: not an image, or no digit in it ("no digit found: ...").
            NotADigit: an `ImageError` for ink that is not a digit (a star, a letter, a photo of a
                thing); its `reading` holds the best guess.
        """
        name = _name(image)
        prepared = prepare(open_image(image), name)
        reading = self.readings(prepared.image[None], [prepared.box], top_k, contexts=[prepared.context])[0]
        if reading.refusal is not None:
            raise NotADigit(f"{name}: {reading.refusal}", reading)
        return reading

    def read_number(self, image: ImageLike, top_k: int = 3) -> NumberReading:
        """Every digit of a written number, left to right.

        Raises:
            ImageError: not an image, or no digit in it.
            NotADigit: a mark in the row is not a digit; its `reading` holds the row's best guesses.
        """
        name = _name(image)
        parts = prepare_number(open_image(image), name)
        read = NumberReading(self.readings(np.stack([part.image for part in parts]), [p.box for p in parts], top_k, contexts=[p.context for p in parts]))
        if read.refusal is not None:
            raise NotADigit(f"{name}: {read.refusal}", read)
        return read


def _digits(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) or (28, 28) uint8 -> (N, 28, 28) uint8.

    Raises:
        ConfigError: another shape or type.
    """
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (28, 28) or array.dtype != np.uint8:
        raise ConfigError(f"expected (N, 28, 28) uint8 digits, got {array.shape} {array.dtype}",
                          hint="pass prepared MNIST-style digits, or use read() for an image of any size")  # fmt: skip
    return array


def _name(image: ImageLike) -> str:
    return str(image) if isinstance(image, (str, Path)) else "<image>"


def pretrained_choice() -> ModelChoice:
    """The pretrained model in the package (ONNX, and its weights for the torch engine)."""
    checkpoint = PRETRAINED_DIR / f"{PRETRAINED_NAME}.pt"
    onnx = PRETRAINED_DIR / f"{PRETRAINED_NAME}.onnx"
    if not checkpoint.is_file() and not onnx.is_file():
        raise CheckpointError("no run under the runs folder and no pretrained model in this installation",
                              hint="train one with `mnist train`, or reinstall the package")  # fmt: skip
    return ModelChoice("pretrained", checkpoint if checkpoint.is_file() else None, onnx if onnx.is_file() else None)


def pretrained_info() -> dict | None:
    """The pretrained model's card (how it was trained, its measured accuracy), or None if not installed."""
    card = PRETRAINED_DIR / f"{PRETRAINED_NAME}.json"
    try:
        return json.loads(card.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def locate(run: Path | None, checkpoint: Path | None, runs_dir: Path) -> ModelChoice:
    """The model `--run` (a run folder, or "pretrained"), `--checkpoint`, the newest `mnist train` run
    under `runs_dir` (see `runs.newest_run`) or, when there is none, the package's pretrained model names.

    Raises:
        ConfigError: both --run and --checkpoint.
        CheckpointError: a named run or checkpoint that is not there.
    """
    from ..runs import checkpoint_of, newest_run

    if run is not None and checkpoint is not None:
        raise ConfigError("--run and --checkpoint exclude each other", hint="pass one of them")
    if checkpoint is not None:
        if checkpoint.suffix.lower() == ".onnx":
            return ModelChoice("checkpoint", None, checkpoint)
        path = checkpoint_of(checkpoint)
        return ModelChoice("checkpoint", path, RunFolder.onnx_of(path))
    if run is not None:
        if str(run) == PRETRAINED_NAME_OPTION and not Path(run).exists():
            return pretrained_choice()
        path = checkpoint_of(run, prefer_best=True)
        return ModelChoice("run", path, RunFolder.onnx_of(path))
    try:
        path = newest_run(runs_dir).reported_checkpoint()
    except CheckpointError:
        return pretrained_choice()
    return ModelChoice("newest run", path, RunFolder.onnx_of(path))


def _may_wait_for_export(choice: ModelChoice, engine: str) -> bool:
    """Whether `load_model` waits for an export after training of the choice's ONNX model, should one be
    under way (never on `torch`, never for the pretrained model)."""
    return engine != "torch" and choice.onnx is not None and choice.origin != "pretrained"


def export_under_way(choice: ModelChoice, engine: str = "auto") -> bool:
    """Whether `load_model(choice, engine)` would now wait for the export after training (a front-end
    says so before it calls it)."""
    from . import background_export

    return choice.onnx is not None and _may_wait_for_export(choice, engine) and background_export.exporting(choice.onnx)


def _fresh_onnx(choice: ModelChoice, engine: str = "auto") -> tuple[bool, str | None]:
    """Whether the choice's ONNX model may stand for it (present, and not older than its checkpoint),
    once the export after training, if one is under way, is done (not waited for on `torch`)."""
    from . import background_export

    if choice.onnx is not None and choice.origin != "pretrained":
        if _may_wait_for_export(choice, engine):
            background_export.wait(choice.onnx)
        why = None if choice.onnx.is_file() else background_export.problem(choice.onnx, choice.checkpoint)
        if why:
            return False, why
    if choice.onnx is None or not choice.onnx.is_file():
        return False, None if choice.checkpoint is None else f"no ONNX model beside {choice.checkpoint}"
    if choice.checkpoint is not None and choice.checkpoint.is_file() and choice.origin != "pretrained":
        if choice.onnx.stat().st_mtime < choice.checkpoint.stat().st_mtime:
            return False, f"{choice.onnx} is older than {choice.checkpoint.name} (re-export with `mnist export`)"
    return True, None


def load_model(choice: ModelChoice, engine: str = "auto", threads: int | None = None, not_a_digit: bool = True) -> Model:
    """Open the chosen model on `engine`; with `not_a_digit`, its readings are checked by the shipped
    "not a digit" detector (when the package has one).

    Raises:
        ConfigError: an unknown engine, or one that cannot read this model.
        ModelFileError, CheckpointError: the file is missing or not readable.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "torch" and choice.checkpoint is None:
        raise ConfigError(f"--engine torch needs a torch checkpoint; {choice.onnx} is an ONNX model",
                          hint="use --engine onnx (or auto) for .onnx files")  # fmt: skip
    fresh, why_not = _fresh_onnx(choice, engine)
    if engine == "onnx" and not fresh and choice.checkpoint is not None:
        raise ModelFileError(f"--engine onnx: {why_not or 'no ONNX model'}",
                             hint=f"write one with `mnist export --checkpoint {choice.checkpoint}`, or use --engine torch")  # fmt: skip
    if engine == "onnx" or choice.checkpoint is None or (engine == "auto" and fresh):  # an .onnx file alone: its own errors
        from .onnx_model import OnnxModel

        if choice.onnx is None:  # a choice names a checkpoint, an ONNX model or both
            raise ModelFileError("no ONNX model to load", hint="use --engine torch")
        session = OnnxModel(choice.onnx, threads)
        meta = session.metadata
        return Model(session, "onnx", choice.origin, choice.onnx, choice.checkpoint, meta.get("test_accuracy"), None, meta.get("arch"),
                     meta.get("global_step"), _detector(not_a_digit))  # fmt: skip
    from .checkpoint import load_checkpoint, rebuild_model
    from .export import checkpoint_test_accuracy
    from .torch_model import TorchModel

    if threads:
        import torch

        torch.set_num_threads(threads)
    checkpoint = choice.checkpoint
    payload = load_checkpoint(checkpoint)
    norm = payload["normalization"]
    network = TorchModel(rebuild_model(payload), norm["mean"], norm["std"], calibration=Calibration.from_json(payload.get("calibration")))
    note = why_not if engine == "auto" and choice.onnx is not None and why_not else None
    return Model(network, "torch", choice.origin, checkpoint, checkpoint,
                       checkpoint_test_accuracy(payload), note, payload["arch"], payload.get("global_step"), _detector(not_a_digit))  # fmt: skip


def _detector(wanted: bool):
    from .digitness import shipped_detector

    return shipped_detector() if wanted else None
