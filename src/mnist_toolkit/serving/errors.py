"""The API's own errors (a request answered with a 4xx or 503 status and a JSON {"error": ...}), and
how any message is made fit to show a client: no terminal codes, no paths of the server's files."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import MnistError

#: ANSI/VT100 control sequences (colours, bold) that libraries such as torch put in their messages.
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
#: Other control characters (a bare ESC, BEL, ...) but tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: An absolute path of three or more parts ("/srv/runs/x/last.pt"): shown by its last part. Two-part
#: ones are left alone: the API's own URLs ("see GET /api/models") are such.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:/[^/\s'\"():,;]+){2,}/([^/\s'\"():,;]+)")


class RequestError(MnistError):
    """A request the API answers with a 4xx (or 503) status.

    Args:
        status: the HTTP status.
        message: the error, one sentence about the request (it may quote the client's own input).
        headers: extra response headers (Retry-After, Connection).
    """

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})

    def document(self) -> dict:
        """The JSON body of the answer."""
        return {"error": self.message}


class Busy(RequestError):
    """Every reading slot is taken and the queue is full (503, with Retry-After): try again shortly."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(503, f"busy: too many images being read at once; retry in {retry_after} s", {"Retry-After": str(retry_after)})


class ModelUnavailable(RequestError):
    """A listed model whose files cannot be loaded (409 Conflict: the request is fine, the model's files
    are not; another model can be picked, and the same one works again once its files are replaced)."""

    def __init__(self, model_id: str, reason: str) -> None:
        super().__init__(409, f"model {model_id!r} cannot be used: {reason}")
        self.model_id = model_id

    def document(self) -> dict:
        return {"error": self.message, "model": self.model_id}


class ClientGone(RequestError):
    """The client closed the connection before its request body arrived; nobody reads the answer."""

    def __init__(self) -> None:
        super().__init__(400, "client disconnected during upload")


def without_terminal_codes(text: str) -> str:
    """`text` without ANSI escape sequences and control characters (tab and newline stay)."""
    return _CONTROL.sub("", _TERMINAL_CODES.sub("", text))


def replace_paths(text: str, names: Mapping[str, str]) -> str:
    """`text` with every occurrence of a path in `names` replaced by its name there (longest first, so a
    file inside a folder is named before the folder is), then any other absolute path by its last part."""
    for path in sorted(names, key=len, reverse=True):
        if path:
            text = text.replace(path, names[path])
    return _ABSOLUTE_PATH.sub(r"\1", text)
