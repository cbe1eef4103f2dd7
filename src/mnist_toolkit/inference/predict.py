"""`mnist predict`'s inputs: image files, folders, globs and stdin expanded, then read in batches of
`BATCH_SIZE` (each batch prepared and answered before the next is opened, so memory stays bounded
for a folder of any size); a file that cannot be read becomes an error row, never a stopped batch."""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MnistError
from ..reading.prepare import ImageError, Prepared, prepare_bytes, prepare_number_bytes, read_file, read_limited
from .answers import NumberReading, Reading, read_inputs

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
STDIN = "-"
#: The end of the error of an input that names no file.
MISSING = "no such file or pattern"
#: Inputs prepared and read together: at most this many decoded images' inputs are held at once, and
#: the model answers them in one call (a batch this size takes about as long per image as larger ones).
BATCH_SIZE = 256


@dataclass
class PredictionRow:
    """One input and what the model read in it (or why it could not)."""

    file: str
    prepared: Prepared | None = None
    reading: Reading | None = None
    error: str | None = None
    parts: list[PredictionRow] | None = None  # with --number: one row per digit, left to right

    @property
    def digit(self) -> int | None:
        """The digit read; None when none was (an error, or not a digit)."""
        return self.reading.digit if self.reading and self.reading.is_digit else None

    @property
    def confidence(self) -> float | None:
        return self.reading.confidence if self.reading and self.reading.is_digit else None

    @property
    def refused_as_not_a_digit(self) -> bool:
        """The detector refused this input (or, with --number, one of its digits) as not a digit."""
        if self.parts is not None:
            return any(part.refused_as_not_a_digit for part in self.parts)
        return bool(self.reading and not self.reading.is_digit)

    @property
    def top_k(self) -> list[dict]:
        return self.reading.top_k if self.reading else []

    def number_reading(self) -> NumberReading | None:
        """The number read, when every digit of a --number row was read."""
        if not self.parts or any(part.reading is None for part in self.parts):
            return None
        return NumberReading([part.reading for part in self.parts if part.reading is not None])

    def to_json(self) -> dict:
        if self.parts is not None:
            number = self.number_reading()
            digits = [{"digit": part.digit, "confidence": part.confidence, "top_k": part.top_k,
                       "box": list(part.prepared.box) if part.prepared and part.prepared.box else None,
                       "digit_score": part.reading.digit_score if part.reading else None,
                       "not_digit": part.refused_as_not_a_digit} for part in self.parts]  # fmt: skip
            return {"file": self.file, "number": number.number if number else None,
                    "confidence": number.confidence if number else None, "digits": digits, "error": self.error}  # fmt: skip
        return {"file": self.file, "digit": self.digit, "confidence": self.confidence, "top_k": self.top_k,
                "digit_score": self.reading.digit_score if self.reading else None,
                "not_digit": self.refused_as_not_a_digit, "error": self.error}  # fmt: skip


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
    """The bytes of a file, or of stdin for `-`; refused as soon as they pass the file size cap, so
    that stdin or /dev/zero never hold more than the cap in memory.

    Raises:
        ImageError: missing, a folder without images, unreadable or too large.
    """
    if item == STDIN:
        return read_limited(sys.stdin.buffer, "<stdin>")
    path = Path(item)
    if path.is_dir():
        raise ImageError(f"{item}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if not path.exists():
        raise ImageError(f"{item}: {MISSING}")
    return read_file(path, item)


def digit_rows(rows: list[PredictionRow]) -> list[PredictionRow]:
    """Every row that holds one digit: the rows themselves, or their parts when a number was read."""
    return [part for row in rows for part in (row.parts if row.parts is not None else [row])]


def prepare_inputs(items: list[str], number: bool = False) -> list[PredictionRow]:
    """Expand and preprocess every input (with `number`, every digit of a row); failures become error rows."""
    return _prepare_paths(expand_inputs(items), number)


def _prepare_paths(paths: list[str], number: bool) -> list[PredictionRow]:
    rows = []
    for item in paths:
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


def predict_in_batches(model, items: list[str], number: bool = False, top_k: int = 3, batch_size: int | None = None,
                       detector=None) -> Iterator[list[PredictionRow]]:  # fmt: skip
    """Expand `items`, then prepare and read them `batch_size` at a time: one list of rows per batch,
    in input order. The caller renders each batch and lets it go (bounded memory)."""
    batch_size = batch_size or BATCH_SIZE
    paths = expand_inputs(items)
    for start in range(0, len(paths), batch_size):
        yield predict_rows(model, _prepare_paths(paths[start : start + batch_size], number), top_k, detector)


def predict_rows(model, rows: list[PredictionRow], top_k: int = 3, detector=None) -> list[PredictionRow]:
    """Read every row that has a prepared image (one batch), filling its `reading`; with a `detector`
    (`digitness.DigitnessDetector`), a row whose ink is not a digit gets the error "not a digit: ..."
    (its reading keeps the best guess).

    `model` is anything with `predict_proba(images)` (calibrated probabilities): a `Model`'s
    `predictor`, a `TorchModel` or an `OnnxModel`.
    """
    ready = [row for row in digit_rows(rows) if row.prepared is not None]
    if not ready:
        return rows
    batch = np.stack([row.prepared.image for row in ready])  # (B, 28, 28) uint8
    for row, reading in zip(ready, read_inputs(model, batch, [row.prepared.box for row in ready], top_k, detector, [row.prepared.context for row in ready])):
        row.reading = reading
    for row in rows:
        read = row.number_reading() if row.parts is not None else row.reading
        refusal = read.refusal if read is not None else None
        if refusal is not None and row.error is None:
            row.error = f"{row.file}: {refusal}"
    return rows


def save_inputs(rows: list[PredictionRow], folder: Path, taken: dict[str, int] | None = None) -> list[Path]:
    """Write each prepared 28x28 input as `<file stem>.png` into `folder` (`-2`, `-3`, ... when stems
    repeat, e.g. the digits of a number); returns the files written. `taken`: the names written by
    earlier batches, each with the next suffix to try when its stem comes again (updated)."""
    from PIL import Image

    from ..imaging import save_png

    taken = {} if taken is None else taken
    written = []
    for row in digit_rows(rows):
        if row.prepared is None:
            continue
        stem = name = Path(row.file).stem or "stdin"
        if name in taken:
            n = taken[stem]
            while f"{stem}-{n}" in taken:
                n += 1
            taken[stem], name = n + 1, f"{stem}-{n}"
        taken.setdefault(name, 2)
        written.append(save_png(Image.fromarray(row.prepared.image, mode="L"), Path(folder) / f"{name}.png"))
    return written
