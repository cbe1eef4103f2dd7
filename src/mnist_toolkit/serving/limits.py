"""The server's limits, each with its reason: body size, readings at once and waiting, and how long a
client may take to send its request. `ServerLimits` holds them (tests pass small ones), and
`ReadingGate` enforces the readings' part.

Memory is what the concurrency limits bound: a request admitted to the gate may hold its body (at
most MAX_BODY_BYTES) while it waits, and a running reading holds a decoded image besides. So at most
readings + waiting bodies are ever held (18 x 10 MB with the defaults), and at most MAX_READINGS
decoded images; a request beyond that is refused with 503 before its body is read. The budget: 20
worst-case uploads at once stay under 1.5 GB (see MAX_READINGS).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import Busy

#: An upload larger than this is refused (413), counted on the wire: a phone photo is 2-8 MB.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: At most this many readings at once whatever the core count. A worst-case upload (a 39-megapixel PNG
#: under 10 MB) peaked at about 340 MB while read (measured with reading/ as of this writing); the
#: process itself holds about 600 MB with torch and two models loaded, and the queue up to 180 MB of
#: bodies: 600 + 180 + 2 x 340 stays under the 1.5 GB budget, a third reading would not. Raise it
#: when a reading's peak comes down.
MAX_READINGS = 2
#: Requests admitted beyond the running readings, their bodies received, waiting for a slot: the page
#: sends two per stroke (the answer, then the explanation), so 16 lets eight people draw at once.
#: Any more gets 503 at once, its body unread.
WAITING = 16
#: A request waits at most this long for a slot, then gets 503: a normal reading takes well under a
#: second, a 40-megapixel photo a few; more than this means the queue is not moving.
SLOT_WAIT_SECONDS = 30.0
#: What a 503 asks the client to wait before it retries (Retry-After): about one reading.
RETRY_AFTER_SECONDS = 1
#: A client must send a request's complete headers within this long of connecting (or of the previous
#: answer on a kept-alive connection): a browser needs milliseconds; headers sent a line at a time
#: (slowloris) are cut here. The same as uvicorn's keep-alive timeout.
HEADER_SECONDS = 5.0
#: A whole body must arrive within this long: 10 MB in 20 s is 4 Mbit/s, a slow Wi-Fi link.
BODY_SECONDS = 20.0
#: ...and no pause in it may last longer than this (a client that stopped sending).
BODY_IDLE_SECONDS = 5.0


def default_readings(cpus: int | None = None) -> int:
    """Readings at once: half the cores this process may use (at least 1, at most MAX_READINGS).

    A reading is mostly single-threaded decoding and numpy work, while its model's forward pass
    already runs on several threads (ONNX Runtime and torch use one per core by default); the other
    half of the cores is left to those threads and to the event loop that receives uploads and
    answers /api/health, /api/models and the page meanwhile.
    """
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus // 2, MAX_READINGS))


@dataclass(frozen=True)
class ServerLimits:
    """How much the server does at once and how long it waits for a client (see the constants)."""

    readings: int = field(default_factory=default_readings)  # readings (predict, explain) at once
    waiting: int = WAITING  # admitted requests waiting for a reading slot
    slot_wait_seconds: float = SLOT_WAIT_SECONDS
    retry_after_seconds: int = RETRY_AFTER_SECONDS
    max_body_bytes: int = MAX_BODY_BYTES
    header_seconds: float = HEADER_SECONDS
    body_seconds: float = BODY_SECONDS
    body_idle_seconds: float = BODY_IDLE_SECONDS

    def __post_init__(self) -> None:
        if self.readings < 1 or self.waiting < 0:
            raise ValueError(f"readings must be at least 1 and waiting at least 0, not {self.readings} and {self.waiting}")


T = TypeVar("T")


class ReadingGate:
    """At most `limits.readings` readings at once, and `limits.waiting` more admitted requests waiting
    for a slot; a request beyond those gets `Busy` (503) before its body is read.

    Thread-based, not asyncio-based: the readings run in worker threads, and an app may be served by
    several event loops (Starlette's TestClient starts one per request).
    """

    def __init__(self, limits: ServerLimits) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.limits = limits
        self._admitted = 0  # running plus waiting
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(limits.readings)
        # The readings run on their own `readings` threads, not on whichever of the server's many worker
        # threads took the request: the C allocator keeps what a thread freed for that thread's arena, so
        # big images read by 20 different threads left 20 arenas' worth of memory resident (measured:
        # 2.6 GB for 20 simultaneous 40-megapixel uploads, readings 2 at a time).
        self._pool = ThreadPoolExecutor(max_workers=limits.readings, thread_name_prefix="reading")

    @property
    def admitted(self) -> int:
        return self._admitted

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place (running or waiting) for one request, or raise Busy at once when none is left."""
        with self._lock:
            if self._admitted >= self.limits.readings + self.limits.waiting:
                raise Busy(self.limits.retry_after_seconds)
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    def run(self, function: Callable[..., T], *args) -> T:
        """Call `function(*args)` in a reading slot (in a worker thread: this blocks while waiting for one).

        Raises:
            Busy: no slot came free within `limits.slot_wait_seconds`.
        """
        if not self._slots.acquire(timeout=self.limits.slot_wait_seconds):
            raise Busy(self.limits.retry_after_seconds)
        try:
            return self._pool.submit(function, *args).result()
        finally:
            self._slots.release()
