"""Typed errors of the toolkit; the CLI turns each into a one-line message with a hint and an exit status.

The exit status is each type's `exit_code`: 2 for a usage error (`ConfigError`, `UnknownName`: an option's
value or a combination of options, whether given on the command line or in a --config file), 1 for every
other failure (a missing or broken file, a failed download, a bad checkpoint).
"""

from __future__ import annotations

from collections.abc import Iterable

#: Where a hint names the command being run: the CLI's error boundary writes the real one (`mnist train`) there.
COMMAND = "mnist COMMAND"


class MnistError(Exception):
    """Base of every expected failure: bad input, missing files, failed downloads.

    Args:
        message: what is wrong, naming the file or value concerned.
        hint: what the user can do about it.
    """

    default_hint = ""
    exit_code = 1  # the CLI's exit status

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        return self.message

    def hint_for(self, command: str) -> str:
        """The hint, with `command` (e.g. `mnist train`) where it names the command being run."""
        return self.hint.replace(COMMAND, command)


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


class ConfigError(MnistError):
    """An option or combination of options is invalid: a usage error."""

    default_hint = f"see `{COMMAND} --help` for the valid options"
    exit_code = 2


class UnknownName(ConfigError):
    """A name (model, optimizer, ...) is not in its registry; the message lists the valid ones (see `of`)."""

    default_hint = f"see `{COMMAND} --help`"

    @classmethod
    def of(cls, kind: str, name: str, valid: Iterable[str], hint: str | None = None) -> UnknownName:
        """`unknown optimizer 'adm': choose one of adam, adamw, ...`, hinting at the closest valid name.

        Args:
            kind: what `name` names, e.g. "optimizer".
            name: the name given.
            valid: the registered names, in the order to list them.
            hint: the hint; default: "did you mean 'adam'?" when a valid name is close, else the default hint.
        """
        import difflib

        valid = [str(v) for v in valid]
        close = difflib.get_close_matches(str(name), valid, n=1)
        if hint is None and close:
            hint = f"did you mean {close[0]!r}?"
        return cls(f"unknown {kind} {name!r}: choose one of {', '.join(valid)}", hint)


class ConfigFileError(ConfigError):
    """A TOML file (--config, --grid) or a grid folder is missing, unreadable or not in the expected form.

    A ConfigError for those who catch that, but a broken file rather than a usage error: exit status 1.
    """

    default_hint = "check the file's path and contents"
    exit_code = 1


class CheckpointError(MnistError):
    """A checkpoint is missing, truncated, foreign or incompatible."""

    default_hint = "train a model with `mnist train`, or pass a checkpoint with `--checkpoint FILE`"


class ModelFileError(MnistError):
    """An exported model file (ONNX, pt2) is missing, corrupt, foreign or of the wrong shape."""

    default_hint = "export one with `mnist export`, or pass a run folder with `--run DIR`"


class OutputError(MnistError):
    """A file or folder to be written cannot be: its folder is missing or not writable, a folder is in
    the way, or a run folder of that name exists already."""

    default_hint = "choose another place, or check its permissions and the free disk space"
