"""Facts about IDX files and about the data set in use, as plain JSON-ready values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .source import DataSource, companion_labels, load_split
from .idx import IdxFile, read_idx
from .resources import RESOURCES_BY_SHA256


@dataclass(frozen=True)
class FileReport:
    """What `inspect` found in one file: facts, plus the arrays to draw."""

    facts: dict
    images: np.ndarray | None = None  # (N, H, W) when the file holds images
    labels: np.ndarray | None = None  # labels for those images, from the file beside it


def _is_images(parsed: IdxFile) -> bool:
    return parsed.data.ndim == 3


def _is_labels(parsed: IdxFile) -> bool:
    return parsed.data.ndim == 1 and parsed.data.dtype.kind in "iu"


def class_counts(labels: np.ndarray) -> dict[int, int]:
    """Count of each distinct label value."""
    values, counts = np.unique(labels, return_counts=True)
    return {int(value): int(count) for value, count in zip(values, counts)}


def pixel_stats(images: np.ndarray) -> dict[str, float]:
    """Min, max, mean and standard deviation over every pixel (float64 accumulation)."""
    if images.size == 0:
        return {"min": None, "max": None, "mean": None, "std": None}
    flat = images.reshape(-1)
    return {
        "min": float(flat.min()),
        "max": float(flat.max()),
        "mean": float(flat.mean(dtype=np.float64)),
        "std": float(flat.std(dtype=np.float64)),
    }


def inspect_file(path: str | Path) -> FileReport:
    """Read any IDX file and describe it.

    Raises:
        DatasetNotFound, IdxFormatError: the file cannot be read as IDX.
    """
    path = Path(path)
    parsed = read_idx(path)
    header = parsed.header
    known = RESOURCES_BY_SHA256.get(parsed.sha256)
    facts: dict = {
        "file": str(path),
        "file_bytes": parsed.file_bytes,
        "gzipped": parsed.gzipped,
        "magic": f"0x{header.magic:08X}",
        "type_code": f"0x{header.type_code:02X}",
        "type": header.type_name,
        "ndim": header.ndim,
        "dims": list(header.shape),
        "item_count": header.item_count,
        "data_bytes": header.data_bytes,
        "sha256": parsed.sha256,
        "known_mnist": known.filename if known else None,
        "kind": "images" if _is_images(parsed) else "labels" if _is_labels(parsed) else "other",
    }
    images = labels = None
    if _is_images(parsed):
        images = parsed.data
        facts["pixels"] = pixel_stats(images)
        companion = companion_labels(path)
        facts["labels_file"] = None
        if companion is not None:
            try:
                companion_data = read_idx(companion).data
            except Exception:  # a broken companion only means no labels are drawn
                companion_data = None
            if companion_data is not None and companion_data.ndim == 1 and len(companion_data) == len(images):
                labels = companion_data
                facts["labels_file"] = str(companion)
    elif _is_labels(parsed):
        facts["class_counts"] = {str(k): v for k, v in class_counts(parsed.data).items()}
    else:
        facts["values"] = pixel_stats(parsed.data)
    return FileReport(facts, images, labels)


def summarize_source(source: DataSource) -> dict:
    """Counts and class balance of the train and test splits of a resolved data set (verified on read)."""
    summary = source.describe()
    splits = {}
    for split in ("train", "test"):
        digits = load_split(source, split)
        counts = class_counts(digits.labels)
        splits[split] = {
            "images": len(digits),
            "images_file": digits.images_file,
            "labels_file": digits.labels_file,
            "class_counts": {str(d): counts.get(d, 0) for d in range(10)},
            "pixels": pixel_stats(digits.images),
        }
    summary["splits"] = splits
    summary["verified"] = True
    return summary
