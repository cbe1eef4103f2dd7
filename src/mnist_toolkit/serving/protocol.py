"""How `mnist serve` runs its app on uvicorn: the HTTP protocol with time limits on reading a request,
and the server's configuration.

uvicorn bounds only the idle time between requests (`timeout_keep_alive`), and any byte received
restarts that; nothing bounds how long a request's headers or body take. `DeadlineProtocol` (uvicorn's
h11 protocol) closes a connection whose request headers are not complete within
`limits.header_seconds` of its opening or of the previous answer, however they trickle in, and one
whose body has not arrived within `limits.body_seconds` (or pauses longer than
`limits.body_idle_seconds`), also a body the app never reads (an early 4xx). The app's own body
deadline (app.py) answers 408 first; this is the backstop, BODY_GRACE_SECONDS later.
"""

from __future__ import annotations

import asyncio

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .limits import ServerLimits

#: The protocol's body deadlines come this long after the app's, so that the app's 408 answer, not a
#: closed connection, is what a slow client sees when the app is reading the body.
BODY_GRACE_SECONDS = 1.0


class DeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers or body are too slow (see
    the module's docstring). Use `deadline_protocol(limits)` for a class with given limits."""

    limits = ServerLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._phase: object = None  # h11's state of the client: IDLE, SEND_BODY, DONE, ...
        self._timers: list[asyncio.TimerHandle] = []
        super().connection_made(transport)
        self._watch(received=False)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch(received=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start the next request on this connection
        self._watch(received=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers = []

    def _watch(self, received: bool) -> None:
        """Arm the deadline of the phase the client is in: sending headers (IDLE, until the request line
        and headers are complete), sending the body (SEND_BODY), or waiting for our answer (none)."""
        phase = self.conn.their_state
        if phase is self._phase:
            if phase is h11.SEND_BODY and received and self._timers:  # a pause is counted from the last data
                self._timers[-1].cancel()
                self._timers[-1] = self.loop.call_later(self.limits.body_idle_seconds + BODY_GRACE_SECONDS, self._cut, phase)
            return
        self._phase = phase
        self._cancel()
        if phase is h11.IDLE:
            self._timers = [self.loop.call_later(self.limits.header_seconds, self._cut, phase)]
        elif phase is h11.SEND_BODY:
            self._timers = [self.loop.call_later(self.limits.body_seconds + BODY_GRACE_SECONDS, self._cut, phase),
                            self.loop.call_later(self.limits.body_idle_seconds + BODY_GRACE_SECONDS, self._cut, phase)]  # fmt: skip

    def _cut(self, phase) -> None:
        if self.conn.their_state is phase and not self.transport.is_closing():
            self.logger.info("closing a connection from %s: request %s too slow", self.client and self.client[0],
                             "headers" if phase is h11.IDLE else "body")  # fmt: skip
            self._cancel()
            self.transport.close()


def deadline_protocol(limits: ServerLimits) -> type[DeadlineProtocol]:
    """A DeadlineProtocol class with these limits (uvicorn makes one instance per connection)."""
    return type("DeadlineProtocol", (DeadlineProtocol,), {"limits": limits})


def server_config(app, host: str, port: int, **options) -> uvicorn.Config:
    """uvicorn's configuration for `app` (from `create_app`) on host:port: DeadlineProtocol with the
    app's own limits, whose header time is also the keep-alive time (other uvicorn options pass
    through, e.g. log_level)."""
    state = getattr(app, "state", None)
    limits = state.gate.limits if state is not None and hasattr(state, "gate") else ServerLimits()
    return uvicorn.Config(app, host=host, port=port, http=deadline_protocol(limits),
                          timeout_keep_alive=max(1, int(limits.header_seconds)), **options)  # fmt: skip
