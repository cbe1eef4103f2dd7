"""The API's own error: a request answered with a 4xx status and a JSON {"error": ...}."""

from __future__ import annotations

from ..errors import MnistError


class RequestError(MnistError):
    """A request the API answers with a 4xx status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
