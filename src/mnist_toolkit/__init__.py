"""mnist-toolkit: get, inspect, train on, evaluate and predict with MNIST, from the `mnist` command or Python.

    import mnist_toolkit as mt
    images, labels = mt.load_mnist("test")            # (10000, 28, 28) uint8, (10000,) uint8
    model = mt.load_model()                           # the newest run, else the pretrained model
    reading = model.read("digit.png")                 # .digit, .confidence, .top_k, .box, .input
    number = model.read_number("year.jpg")            # .number "2026", .confidence, .digits
    probabilities = model.predict_proba(images[:100]) # (100, 10)
    report = mt.evaluate(model)                       # .accuracy, .loss, .per_class, .confusion
    result = mt.train(mt.TrainConfig(epochs=1, max_steps=50), runs_dir="runs")

Every name below is imported on first use, so `import mnist_toolkit` loads no torch, onnxruntime or
web framework. Expected failures raise `MnistError` subclasses, each with a `.hint`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: public name -> the module that defines it
_EXPORTS = {
    "load_mnist": "api",
    "find_model": "api",
    "load_model": "api",
    "evaluate": "api",
    "train": "api",
    "TrainConfig": "training.config",
    "TrainResult": "api",
    "Model": "inference.loading",
    "Reading": "inference.answers",
    "NumberReading": "inference.answers",
    "EvalReport": "inference.evaluation",
    "RunFolder": "runs",
    "list_runs": "runs",
    "RunSummary": "runs",
    "list_models": "models",
    "MnistError": "errors",
    "ConfigError": "errors",
    "ConfigFileError": "errors",
    "OutputError": "errors",
    "CheckpointError": "errors",
    "ModelFileError": "errors",
    "DatasetNotFound": "errors",
    "IdxFormatError": "errors",
    "ChecksumMismatch": "errors",
    "DownloadError": "errors",
    "UnknownName": "errors",
    "ImageError": "reading.prepare",
    "NotADigit": "inference.answers",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .api import TrainResult, evaluate, find_model, load_mnist, load_model, train
    from .errors import (
        CheckpointError,
        ChecksumMismatch,
        ConfigError,
        ConfigFileError,
        DatasetNotFound,
        DownloadError,
        IdxFormatError,
        MnistError,
        ModelFileError,
        OutputError,
        UnknownName,
    )
    from .inference.answers import NotADigit, NumberReading, Reading
    from .inference.evaluation import EvalReport
    from .inference.loading import Model
    from .models import list_models
    from .reading.prepare import ImageError
    from .runs import RunFolder, RunSummary, list_runs
    from .training.config import TrainConfig


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
