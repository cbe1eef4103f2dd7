"""Reading digits from image files with a trained checkpoint: path expansion, preprocessing, top-k."""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MnistError
from ..reading.prepare import ImageError, Prepared, prepare_bytes, prepare_number_bytes

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
STDIN = "-"


@dataclass
class PredictionRow:
    """One input and what the model read in it (or why it could not)."""

    file: str
    digit: int | None = None
    confidence: float | None = None
    top_k: list[dict] = field(default_factory=list)  # [{digit, p}], most probable first
    error: str | None = None
    prepared: Prepared | None = None
    parts: list[PredictionRow] | None = None  # with --number: one row per digit, left to right

    @property
    def number(self) -> str | None:
        if not self.parts or any(part.digit is None for part in self.parts):
            return None
        return "".join(str(part.digit) for part in self.parts)

    @property
    def number_confidence(self) -> float | None:
        """The number's confidence: the product of its digits' confidences."""
        return float(np.prod([part.confidence for part in self.parts])) if self.number is not None else None

    def to_json(self) -> dict:
        if self.parts is not None:
            confidence = self.number_confidence
            digits = [{"digit": part.digit, "confidence": part.confidence, "top_k": part.top_k, "box": list(part.prepared.box)} for part in self.parts]
            return {"file": self.file, "number": self.number, "confidence": confidence, "digits": digits, "error": self.error}
        return {"file": self.file, "digit": self.digit, "confidence": self.confidence, "top_k": self.top_k, "error": self.error}


def expand_inputs(items: list[str]) -> list[str]:
    """Files as given, folders searched recursively for images, glob patterns expanded, `-` kept for stdin.

    Something that matches nothing is kept, so it gets its own error row.
    """
    paths: list[str] = []
    for item in items:
        if item == STDIN:
            paths.append(STDIN)
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            paths.extend(found or [item])
        elif not path.exists() and glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            paths.extend(matches or [item])
        else:
            paths.append(item)
    return paths


def read_input(item: str) -> bytes:
    """The bytes of a file, or of stdin for `-`.

    Raises:
        ImageError: missing, a folder without images, or unreadable.
    """
    if item == STDIN:
        return sys.stdin.buffer.read()
    path = Path(item)
    try:
        if path.is_dir():
            raise ImageError(f"{item}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{item}: no such file or pattern") from None
    except OSError as exc:
        raise ImageError(f"{item}: cannot read: {exc.strerror or exc}") from None


def digit_rows(rows: list[PredictionRow]) -> list[PredictionRow]:
    """Every row that holds one digit: the rows themselves, or their parts when a number was read."""
    return [part for row in rows for part in (row.parts if row.parts is not None else [row])]


def prepare_inputs(items: list[str], number: bool = False) -> list[PredictionRow]:
    """Expand and preprocess every input (with `number`, every digit of a row); failures become error rows."""
    rows = []
    for item in expand_inputs(items):
        row = PredictionRow(file="<stdin>" if item == STDIN else item)
        try:
            if number:
                row.parts = [PredictionRow(file=row.file, prepared=p) for p in prepare_number_bytes(read_input(item), row.file)]
            else:
                row.prepared = prepare_bytes(read_input(item), row.file)
        except MnistError as exc:
            row.error = exc.message
        except Exception as exc:  # a decoder bug on hostile input must not stop the batch
            row.error = f"{row.file}: cannot decode: {type(exc).__name__}: {str(exc)[:120]}"
        rows.append(row)
    return rows


def predict_rows(model, rows: list[PredictionRow], top_k: int = 3) -> list[PredictionRow]:
    """Fill digit, confidence and top-k of every row that has a prepared image (one batch).

    `model` is a `TorchModel` or an `OnnxModel`: anything with `logits(images)`.
    """
    from .evaluation import ranked, softmax

    ready = [row for row in digit_rows(rows) if row.prepared is not None]
    if not ready:
        return rows
    batch = np.stack([row.prepared.image for row in ready])  # (B, 28, 28) uint8
    for row, p in zip(ready, softmax(model.logits(batch, len(ready)))):
        row.top_k = ranked(p, top_k)
        row.digit, row.confidence = row.top_k[0]["digit"], row.top_k[0]["p"]
    return rows
