"""Typed errors of the toolkit; the CLI turns each into a one-line message with a hint."""

from __future__ import annotations


class MnistError(Exception):
    """Base of every expected failure: bad input, missing files, failed downloads.

    Args:
        message: what is wrong, naming the file or value concerned.
        hint: what the user can do about it.
    """

    default_hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        return self.message


class IdxFormatError(MnistError):
    """A file is not a valid IDX file (header, size, compression or content)."""

    default_hint = "check that the file is an IDX file (raw or gzip) and is complete; re-download it with `mnist download --force`"


class DatasetNotFound(MnistError):
    """A data file or folder does not exist or cannot be read."""

    default_hint = "check the path, or run `mnist download` to fetch the data"


class ChecksumMismatch(MnistError):
    """A file's decompressed content is not the expected MNIST file."""

    default_hint = "the file is corrupt or not MNIST; fetch it again with `mnist download --force`"


class DownloadError(MnistError):
    """One or more files could not be obtained from any source."""

    default_hint = "check the network or the mirror URLs, or use `mnist download --offline` to copy the embedded data"


class UnknownName(MnistError):
    """A name (model, optimizer, ...) is not in its registry."""

    default_hint = "see `mnist --help` for the valid values"


class ConfigError(MnistError):
    """An option or combination of options is invalid."""

    default_hint = "see `mnist COMMAND --help` for the valid options"


class CheckpointError(MnistError):
    """A checkpoint is missing, truncated, foreign or incompatible."""

    default_hint = "train a model with `mnist train`, or pass a checkpoint with `--checkpoint FILE`"


class ModelFileError(MnistError):
    """An exported model file (ONNX, pt2) is missing, corrupt, foreign or of the wrong shape."""

    default_hint = "export one with `mnist export`, or pass a run folder with `--run DIR`"
