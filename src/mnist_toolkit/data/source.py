"""Where the MNIST data comes from and how it is loaded: resolution, verification, digit pairs.

Every command resolves its data the same way (`resolve_source`): the first folder named by `--data-dir`,
`MNIST_DATA_DIR` or a `data/mnist` that `mnist download` wrote in the working directory, when it holds
the four valid files; otherwise the copy embedded in the package. Every file is verified against the
SHA-256 of its decompressed content the first time a process reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ChecksumMismatch, DatasetNotFound, IdxFormatError, MnistError
from .idx import IdxFile, read_idx
from .resources import DEFAULT_DATA_DIR, EMBEDDED_DIR, RESOURCES, Resource, normalise_filename, refetch_hint, resource_for

DATA_DIR_ENV = "MNIST_DATA_DIR"

#: What each kind of source is, in words, for the messages that say which copy is in use.
SOURCE_KINDS: dict[str, str] = {
    "data-dir": "the folder given with --data-dir or MNIST_DATA_DIR",
    "download-dir": "the folder `mnist download` writes by default",
    "embedded": "the copy embedded in the package",
}

_verified: dict[tuple[str, int, int], IdxFile] = {}


@dataclass(frozen=True)
class DataSource:
    """The resolved data set: which folder, and the file standing for each resource."""

    kind: str  # a key of SOURCE_KINDS: "data-dir", "download-dir" or "embedded"
    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # resource key -> file
    fallback_reason: str | None = None  # why a named folder was passed over for the embedded copy

    def describe(self) -> dict:
        """A JSON-ready description, for verbose output and `--json` results."""
        return {
            "source": self.kind,
            "root": str(self.root),
            "files": {key: str(path) for key, path in self.files.items()},
            "fallback_reason": self.fallback_reason,
        }


@dataclass(frozen=True)
class DigitSet:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 in 0-9, as read from a pair of IDX files."""

    images: np.ndarray
    labels: np.ndarray
    images_file: str
    labels_file: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def candidate_names(resource: Resource) -> list[str]:
    """File names a resource may go by in a folder, in order of preference."""
    kaggle = resource.filename.replace("-idx", ".idx")
    return [resource.filename, resource.gz_name, kaggle, f"{kaggle}.gz"]


def find_resource_file(folder: Path, resource: Resource) -> Path | None:
    """The first file in `folder` whose name stands for `resource`, or None."""
    for name in candidate_names(resource):
        path = folder / name
        if path.is_file():
            return path
    return None


def verify_file(path: Path, resource: Resource) -> IdxFile:
    """Read a file and check its decompressed content is `resource`; cached per process by size and mtime.

    Raises:
        DatasetNotFound, IdxFormatError: the file cannot be read as IDX.
        ChecksumMismatch: the content is not the expected MNIST file.
    """
    try:
        stat = path.stat()
    except OSError:
        raise DatasetNotFound(f"{path}: no such file") from None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    cached = _verified.get(key)
    if cached is not None:
        return cached
    parsed = read_idx(path)
    if parsed.sha256 != resource.sha256:
        raise ChecksumMismatch(
            f"{path}: content is not MNIST {resource.filename}: SHA-256 of the decompressed content is "
            f"{parsed.sha256[:16]}..., expected {resource.sha256[:16]}...",
            hint=f"the file is corrupt or not MNIST; {refetch_hint(path)}",
        )
    _verified[key] = parsed
    return parsed


def check_folder(folder: Path) -> dict[str, Path]:
    """Find and verify the four MNIST files in a folder.

    Returns:
        resource key -> path.

    Raises:
        DatasetNotFound: the folder or a file is missing.
        IdxFormatError, ChecksumMismatch: a file is not valid.
    """
    if not folder.is_dir():
        raise DatasetNotFound(f"{folder}: no such folder")
    files: dict[str, Path] = {}
    for resource in RESOURCES:
        path = find_resource_file(folder, resource)
        if path is None:
            raise DatasetNotFound(f"{folder}: no {resource.filename} (raw or .gz) in it")
        verify_file(path, resource)
        files[resource.key] = path
    return files


def embedded_source() -> DataSource:
    """The copy shipped in the package (verified when first read)."""
    return DataSource("embedded", EMBEDDED_DIR, {r.key: EMBEDDED_DIR / r.gz_name for r in RESOURCES})


def _holds_mnist_files(folder: Path) -> bool:
    """Whether any file in `folder` is named like one of the four MNIST files."""
    return any(find_resource_file(folder, resource) is not None for resource in RESOURCES)


def _named_folder(data_dir: str | os.PathLike[str] | None) -> tuple[str, Path] | None:
    """The folder that decides, in order: `data_dir`, `MNIST_DATA_DIR`, then `DEFAULT_DATA_DIR` when
    `mnist download` put any file there (an empty or absent default folder names nothing)."""
    if data_dir is not None:
        return "data-dir", Path(data_dir).expanduser()
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return "data-dir", Path(from_env).expanduser()
    if _holds_mnist_files(DEFAULT_DATA_DIR):
        return "download-dir", DEFAULT_DATA_DIR
    return None


def resolve_source(data_dir: str | os.PathLike[str] | None = None) -> DataSource:
    """Resolve the data set every command uses.

    The first folder named decides: `data_dir` (`--data-dir`), else the `MNIST_DATA_DIR` variable, else
    `data/mnist` in the working directory (where `mnist download` writes) when it holds any MNIST file.
    That folder is used when it holds the four valid files; otherwise, and when no folder is named, the
    embedded copy is.

    Args:
        data_dir: a folder given with `--data-dir`; when None, the `MNIST_DATA_DIR` variable is read.

    Returns:
        The named folder when it holds the four valid files, otherwise the embedded copy, with the
        reason a named folder was passed over.
    """
    named = _named_folder(data_dir)
    if named is None:
        return embedded_source()
    kind, folder = named
    try:
        files = check_folder(folder)
    except MnistError as exc:
        reason = exc.message
        if kind == "download-dir":
            reason += "; `mnist download --offline` repairs it"
        source = embedded_source()
        return DataSource(source.kind, source.root, source.files, fallback_reason=reason)
    return DataSource(kind, folder, files)


def check_digit_pair(images: IdxFile, labels: IdxFile) -> DigitSet:
    """Check that two IDX files form a digit set: (N, 28, 28) uint8 images and N labels in 0-9.

    Raises:
        IdxFormatError: shapes, types or counts disagree, or a label is outside 0-9.
    """
    if images.header.type_name != "uint8" or images.data.ndim != 3 or images.data.shape[1:] != (28, 28):
        raise IdxFormatError(
            f"{images.name}: expected uint8 images of shape (N, 28, 28), found "
            f"{images.header.type_name} of shape {images.header.shape}",
            hint="pass an images file of 28x28 uint8 digits, as MNIST's are",
        )
    if labels.data.ndim != 1 or labels.data.dtype.kind not in "iu":
        raise IdxFormatError(
            f"{labels.name}: expected a 1-dimensional integer labels file, found "
            f"{labels.header.type_name} of shape {labels.header.shape}",
            hint="pass a labels file: one integer label per image",
        )
    if images.data.shape[0] != labels.data.shape[0]:
        raise IdxFormatError(
            f"{images.name} holds {images.data.shape[0]:,} images but {labels.name} holds "
            f"{labels.data.shape[0]:,} labels: expected the same count",
            hint="pass an images file and its own labels file",
        )
    if labels.data.size:
        low, high = int(labels.data.min()), int(labels.data.max())
        if low < 0 or high > 9:
            bad = int(np.flatnonzero((labels.data < 0) | (labels.data > 9))[0])
            raise IdxFormatError(
                f"{labels.name}: labels must be digits 0-9, found {int(labels.data[bad])} at index {bad}",
                hint="pass a labels file of the digits 0-9",
            )
    return DigitSet(images.data, labels.data.astype(np.uint8, copy=False), images.name, labels.name)


def load_split(source: DataSource, split: str) -> DigitSet:
    """Load and verify the train or test split of a resolved source."""
    images_res, labels_res = resource_for(split, "images"), resource_for(split, "labels")
    try:
        images = verify_file(source.files[images_res.key], images_res)
        labels = verify_file(source.files[labels_res.key], labels_res)
    except MnistError as exc:
        if source.kind == "embedded":
            raise ChecksumMismatch(
                f"the embedded MNIST copy is damaged: {exc.message}",
                hint=f"reinstall the package (`poetry install`), or run `mnist download`: commands run in the same folder then read {DEFAULT_DATA_DIR}",
            ) from None
        raise
    return check_digit_pair(images, labels)


def load_pair(images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]) -> DigitSet:
    """Load any pair of images/labels IDX files (not necessarily MNIST's own)."""
    return check_digit_pair(read_idx(images_path), read_idx(labels_path))


def companion_labels(images_path: Path) -> Path | None:
    """The labels file that sits beside an images file, if any (same naming scheme, raw or gzip)."""
    base = normalise_filename(images_path.name)
    if "images" not in base:
        return None
    wanted = base.replace("images", "labels").replace("idx3", "idx1")
    for sibling in sorted(images_path.parent.iterdir()):
        if sibling.is_file() and sibling != images_path and normalise_filename(sibling.name) == wanted:
            return sibling
    return None
