"""Scoring a model on a digit set (accuracy, loss, per-class metrics, confusion, mistakes, calibration,
speed) and saving the report beside its run: eval/ PNGs, eval/metrics.json and the run's TensorBoard logs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import write_json
from ..runs import RunFolder
from .calibration import ECE_BINS, expected_calibration_error, nll, reliability
from .scores import accuracy, cross_entropy_sum, softmax


@dataclass
class EvalReport:
    """Everything `mnist evaluate` reports; `to_json` gives the documented schema."""

    checkpoint: str
    data: dict
    count: int
    accuracy: float  # correct / total x 100
    loss: float  # mean cross-entropy
    confusion: np.ndarray  # (10, 10) int64, rows = true digit, columns = predicted
    per_class: list[dict]  # digit, precision, recall, f1, support
    confused_pairs: list[dict]  # true, predicted, count; most frequent first
    misclassified: list[dict]  # index, true, predicted, confidence; in data order
    images_per_second: float
    predictions: np.ndarray | None = field(repr=False, default=None)  # (N,)
    confidences: np.ndarray | None = field(repr=False, default=None)  # (N,) calibrated probability of the predicted digit
    #: How well the confidences match the accuracy on these digits, before and after the model's
    #: temperature: {temperature, fitted_on, ece_before, ece_after, nll_before, nll_after, bins,
    #: reliability_before, reliability_after} (temperature and fitted_on None: uncalibrated).
    calibration: dict | None = None

    def to_json(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "data": self.data,
            "images": self.count,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "per_class": self.per_class,
            "confusion": self.confusion.tolist(),
            "most_confused": self.confused_pairs,
            "misclassified": self.misclassified[:100],
            "images_per_second": self.images_per_second,
            "calibration": self.calibration,
        }


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """(num_classes, num_classes) counts, rows = true class, columns = predicted class."""
    flat = targets.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_metrics(confusion: np.ndarray) -> list[dict]:
    """Precision, recall, F1 (in %) and support of every class; 0 where undefined."""
    true_positive = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)
    support = confusion.sum(axis=1)
    rows = []
    for digit in range(confusion.shape[0]):
        precision = true_positive[digit] / predicted[digit] if predicted[digit] else 0.0
        recall = true_positive[digit] / support[digit] if support[digit] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"digit": digit, "precision": 100 * precision, "recall": 100 * recall, "f1": 100 * f1,
                     "support": int(support[digit])})  # fmt: skip
    return rows


def most_confused(confusion: np.ndarray, top: int = 10) -> list[dict]:
    """The off-diagonal cells with the most images, largest first."""
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1]
    pairs = []
    for flat in order[:top]:
        true, predicted = divmod(int(flat), confusion.shape[1])
        if off[true, predicted] == 0:
            break
        pairs.append({"true": true, "predicted": predicted, "count": int(off[true, predicted])})
    return pairs


def evaluate_model(model, images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> dict:
    """Run a model (a `TorchModel` or an `OnnxModel`: anything with `logits` and `calibration`) over
    (N, 28, 28) uint8 images: predictions, calibrated confidences, loss, calibration and timing."""
    started = time.perf_counter()
    logits = model.logits(images, batch_size)
    seconds = time.perf_counter() - started
    loss = cross_entropy_sum(logits, labels)
    fitted = getattr(model, "calibration", None)
    temperature = fitted.temperature if fitted is not None else 1.0
    raw, calibrated = softmax(logits), softmax(logits / temperature)
    return {
        "predictions": calibrated.argmax(axis=1),
        "confidences": calibrated.max(axis=1),
        "loss": loss / max(1, len(labels)),
        "seconds": seconds,
        "calibration": {
            "temperature": fitted.temperature if fitted is not None else None,
            "fitted_on": fitted.fitted_on if fitted is not None else None,
            "ece_before": expected_calibration_error(raw, labels), "ece_after": expected_calibration_error(calibrated, labels),
            "nll_before": nll(logits, labels), "nll_after": nll(logits, labels, temperature), "bins": ECE_BINS,
            "reliability_before": reliability(raw, labels), "reliability_after": reliability(calibrated, labels),
        } if len(labels) else None,
    }  # fmt: skip


def build_report(checkpoint: str, data: dict, labels: np.ndarray, scored: dict, top_pairs: int = 10) -> EvalReport:
    """Assemble the metrics of a scored digit set."""
    predictions, confidences = scored["predictions"], scored["confidences"]
    confusion = confusion_matrix(labels, predictions)
    count = len(labels)
    percent, _ = accuracy(predictions, labels)
    wrong = np.flatnonzero(predictions != labels)
    misclassified = [{"index": int(i), "true": int(labels[i]), "predicted": int(predictions[i]),
                      "confidence": float(confidences[i])} for i in wrong]  # fmt: skip
    return EvalReport(
        checkpoint=checkpoint,
        data=data,
        count=count,
        accuracy=percent,
        loss=scored["loss"],
        confusion=confusion,
        per_class=per_class_metrics(confusion),
        confused_pairs=most_confused(confusion, top_pairs),
        misclassified=misclassified,
        images_per_second=count / max(scored["seconds"], 1e-9),
        predictions=predictions,
        confidences=confidences,
        calibration=scored.get("calibration"),
    )


def confusion_png(confusion: np.ndarray, path, title: str = "Confusion matrix") -> None:
    """A labelled heat map of the confusion matrix (matplotlib), written atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from ..files import atomic_write_bytes

    figure, axes = plt.subplots(figsize=(6.5, 5.5), dpi=120)
    shown = np.log1p(confusion)
    image = axes.imshow(shown, cmap="Blues")
    for true in range(confusion.shape[0]):
        for predicted in range(confusion.shape[1]):
            value = int(confusion[true, predicted])
            if value:
                colour = "white" if shown[true, predicted] > shown.max() * 0.6 else ("darkred" if true != predicted else "black")
                axes.text(predicted, true, str(value), ha="center", va="center", fontsize=7, color=colour)
    axes.set_xticks(range(10))
    axes.set_yticks(range(10))
    axes.set_xlabel("predicted digit")
    axes.set_ylabel("true digit")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="log(1 + count)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def reliability_png(calibration: dict, path, title: str = "Reliability") -> None:
    """A reliability diagram (matplotlib): per confidence bin, the accuracy against the mean confidence,
    before and after the temperature, with the diagonal of perfect calibration; written atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from ..files import atomic_write_bytes

    figure, axes = plt.subplots(figsize=(5.5, 5.0), dpi=120)
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    curves = [("reliability_before", f"softmax (ECE {100 * calibration['ece_before']:.2f}%)", "tab:red")]
    if calibration.get("temperature") is not None:
        curves.append(("reliability_after", f"T = {calibration['temperature']:.3f} (ECE {100 * calibration['ece_after']:.2f}%)", "tab:blue"))
    for key, label, colour in curves:
        points = [(row["confidence"], row["accuracy"], row["count"]) for row in calibration[key] if row["count"]]
        if points:
            x, y, n = zip(*points)
            axes.plot(x, y, marker="o", color=colour, label=label)
            axes.scatter(x, y, s=[8 + 40 * c / max(n) for c in n], color=colour)
    axes.set_xlim(0, 1.01)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel("confidence (mean of the bin)")
    axes.set_ylabel("accuracy")
    axes.set_title(title)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def evaluate_digits(model, images: np.ndarray, labels: np.ndarray, data: dict, batch_size: int = 256) -> EvalReport:
    """Score `model` (anything with `logits`) on (N, 28, 28) uint8 digits and (N,) labels.

    Args:
        data: what the digits are, recorded in the report (e.g. the source and split).
    """
    scored = evaluate_model(model, images, labels, batch_size)
    return build_report(str(getattr(model, "path", "")), data, labels, scored)


def save_evaluation(report: EvalReport, images: np.ndarray, checkpoint: Path, arch: str | None = None,
                    global_step: int | None = None, tensorboard: bool = True) -> dict[str, str]:  # fmt: skip
    """Save a report into the run of `checkpoint`: eval/confusion.png, eval/misclassified.png (up to
    100 mistakes), eval/metrics.json and, with `tensorboard`, the same into the run's TensorBoard logs.

    Returns:
        {"confusion", "misclassified" (when there are mistakes), "metrics"}: the files written.
    """
    from ..imaging import grid_image, save_png

    run = RunFolder.of_checkpoint(checkpoint)
    out = run.eval_dir
    saved = {}
    confusion_png(report.confusion, out / "confusion.png", f"{arch or 'model'}: {report.accuracy:.2f}% on {report.count:,} images")
    saved["confusion"] = str(out / "confusion.png")
    wrong = [m["index"] for m in report.misclassified[:100]]
    grid = None
    if wrong:
        grid = grid_image(images[wrong], columns=10, scale=2)
        saved["misclassified"] = str(save_png(grid, out / "misclassified.png"))
    if report.calibration is not None:
        reliability_png(report.calibration, out / "reliability.png", f"{arch or 'model'}: reliability on {report.count:,} images")
        saved["reliability"] = str(out / "reliability.png")
    saved["metrics"] = str(write_json(out / "metrics.json", report.to_json()))
    if tensorboard:
        _log_to_tensorboard(run.path, report, out, grid, int(global_step or 0))
    return saved


def _log_to_tensorboard(log_dir: Path, report: EvalReport, out: Path, misclassified_grid, step: int) -> None:
    """An evaluation's metrics, confusion image, reliability diagram and misclassified grid, into a
    run's TensorBoard logs."""
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(log_dir=str(log_dir)) as writer:
        writer.add_scalar("Eval/accuracy", report.accuracy, step)
        writer.add_scalar("Eval/loss", report.loss, step)
        for row in report.per_class:
            writer.add_scalar(f"Eval/f1_digit_{row['digit']}", row["f1"], step)
        confusion = Image.open(out / "confusion.png").convert("RGB")
        writer.add_image("Eval/confusion", np.asarray(confusion), step, dataformats="HWC")
        if report.calibration is not None:
            writer.add_scalar("Eval/ece", 100 * report.calibration["ece_after"], step)
            writer.add_scalar("Eval/ece_uncalibrated", 100 * report.calibration["ece_before"], step)
            writer.add_image("Eval/reliability", np.asarray(Image.open(out / "reliability.png").convert("RGB")), step, dataformats="HWC")
        if misclassified_grid is not None:
            writer.add_image("Eval/misclassified", np.asarray(misclassified_grid), step, dataformats="HW")
