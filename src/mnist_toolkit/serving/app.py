"""`mnist serve`'s ASGI app: the page, its static files and the JSON API, as a list of routes.

Built on Starlette (served by uvicorn): a handful of routes and packaged static files need no more,
and it brings no validation layer or schema generator we would not use (FastAPI adds pydantic on top
of the same core). `create_app(catalog)` returns the ASGI app, so tests call it in-process.

Model ids come from the catalog's own scan ("pretrained", or a run folder's path below the runs
folder); a requested id is looked up among them and never used as a path.

Readings (predict, explain) pass the `ReadingGate` (limits.py): a request is admitted (or refused with
503 and Retry-After) before its body is read, receives its body within the time limits (408 past
them), then waits for one of the few reading slots. Everything else (the page, /api/health,
/api/models) answers meanwhile. Every error is JSON, its message without terminal codes or the
server's paths; a client that goes away mid-upload is one line in the log.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import MnistError
from .answers import explain_image, predict_image
from .catalog import ModelCatalog
from .errors import ClientGone, RequestError
from .limits import ReadingGate, ServerLimits
from .security import LOOPBACK_HOSTS, SameHostOnly, SecurityHeaders

MAX_TOP_K = 10
DEFAULT_TOP_K = 3  # the page asks for no other

WEB = Path(__file__).parent / "web"
log = logging.getLogger("mnist_toolkit.serving")


def _too_large(limit: int) -> RequestError:
    return RequestError(413, f"body over {limit // (1024 * 1024)} MB")


def _too_slow(what: str) -> RequestError:  # the connection is closed: the rest of the body is not awaited
    return RequestError(408, f"{what}; send the whole image at once", {"Connection": "close"})


async def _receive_body(request: Request, limits: ServerLimits) -> bytes:
    """The raw body, at most `limits.max_body_bytes` counted on the wire (also for chunked bodies),
    arriving within `limits.body_seconds` with no pause over `limits.body_idle_seconds`."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise _too_large(limits.max_body_bytes)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.body_seconds
    chunks, size = [], 0
    stream = request.stream()
    try:
        while True:
            wait = min(limits.body_idle_seconds, deadline - loop.time())
            try:
                async with asyncio.timeout(max(wait, 0)):
                    chunk = await anext(stream)
            except StopAsyncIteration:
                break
            except TimeoutError:
                total = loop.time() >= deadline
                raise _too_slow(f"body not received within {limits.body_seconds:g} s" if total
                                else f"no body data for {limits.body_idle_seconds:g} s") from None  # fmt: skip
            except ClientDisconnect:
                log.info("client disconnected during upload (%s %s, %d bytes received)", request.method, request.url.path, size)
                raise ClientGone() from None
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise _too_large(limits.max_body_bytes)
            chunks.append(chunk)
    finally:
        await stream.aclose()
    return b"".join(chunks)


async def read_image(request: Request, limits: ServerLimits | None = None) -> bytes:
    """The image of a request: the raw body, or the multipart field `image`; at most 10 MB either
    way, counted on the wire before anything is parsed or spooled (see `_receive_body`)."""
    body = await _receive_body(request, limits or ServerLimits())
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        async with Request(request.scope, receive=replay).form(max_files=1, max_fields=10) as form:
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise RequestError(400, "multipart body without a file field 'image'")
            body = await upload.read()
    if not body:
        raise RequestError(400, "empty body: send the image bytes, or a multipart field 'image'")
    return body


def _flag(request: Request, name: str, default: bool = False) -> bool:
    """A yes/no query parameter: 1/true/yes/on or 0/false/no/off (any case); `default` when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise RequestError(400, f"{name} must be true or false, not {raw[:20]!r}")


def _top_k(request: Request) -> int:
    raw = request.query_params.get("top_k", str(DEFAULT_TOP_K))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TOP_K:
        raise RequestError(400, f"top_k must be an integer from 1 to {MAX_TOP_K}, not {raw[:20]!r}")
    return int(raw)


def _catalog(request: Request) -> ModelCatalog:
    return request.app.state.catalog


def _gate(request: Request) -> ReadingGate:
    return request.app.state.gate


async def index(request: Request) -> Response:
    return FileResponse(WEB / "index.html")


async def favicon(request: Request) -> Response:  # what browsers and tools ask for by convention; the page links the same file
    return FileResponse(WEB / "favicon.svg", media_type="image/svg+xml")


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _listing(catalog: ModelCatalog) -> dict:
    entries = catalog.entries()
    default = catalog.default_id(entries)  # loads the default model: a broken one is then known
    models = []
    for entry in entries:
        error = catalog.usable(entry)
        models.append({"id": entry.id, "label": entry.label, "test_accuracy": entry.test_accuracy, "default": entry.id == default,
                       "usable": error is None, "error": error})  # fmt: skip
    from ..inference.digitness import shipped_detector

    # whether answers are checked for "not a digit" unless a request says otherwise, and whether they can be
    check = {"default": catalog.digit_check, "available": shipped_detector() is not None}
    return {"default": default, "models": models, "digit_check": check}


async def models(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_listing, _catalog(request)))


async def predict(request: Request) -> Response:
    top_k, number, model = _top_k(request), _flag(request, "number"), request.query_params.get("model")
    digit_check = _flag(request, "digit_check", default=_catalog(request).digit_check)
    gate = _gate(request)
    with gate.admit():
        data = await read_image(request, gate.limits)
        document = await run_in_threadpool(gate.run, predict_image, _catalog(request), data, model, number, top_k, digit_check)
    return JSONResponse(document)


async def explain(request: Request) -> Response:
    model = request.query_params.get("model")
    gate = _gate(request)
    with gate.admit():
        data = await read_image(request, gate.limits)
        document = await run_in_threadpool(gate.run, explain_image, _catalog(request), data, model)
    return JSONResponse(document)


def _plain(request: Request, text: str) -> str:
    return _catalog(request).plain(str(text))


async def _request_error(request: Request, exc: RequestError) -> Response:
    document = {**exc.document(), "error": _plain(request, exc.message)}
    return JSONResponse(document, status_code=exc.status, headers=exc.headers)


async def _mnist_error(request: Request, exc: MnistError) -> Response:  # a failure of ours on a good request
    return JSONResponse({"error": _plain(request, exc.message), "hint": _plain(request, exc.hint)}, status_code=500)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return JSONResponse({"error": _plain(request, exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:  # a bug: still JSON, still one line
    return JSONResponse({"error": f"internal error ({type(exc).__name__}); see the server's log"}, status_code=500)


ROUTES = [
    Route("/", index),
    Route("/favicon.ico", favicon),
    Route("/api/health", health),
    Route("/api/models", models),
    Route("/api/predict", predict, methods=["POST"]),
    Route("/api/explain", explain, methods=["POST"]),
    Mount("/static", StaticFiles(directory=WEB), name="static"),
]
ERROR_HANDLERS = {RequestError: _request_error, MnistError: _mnist_error, HTTPException: _http_error, Exception: _server_error}


class _App(Starlette):
    """Starlette with SecurityHeaders outside everything, so that the 500 answer of its own
    ServerErrorMiddleware carries them too."""

    def build_middleware_stack(self):
        return SecurityHeaders(super().build_middleware_stack())


def create_app(catalog: ModelCatalog, allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS, port: int | None = None,
               limits: ServerLimits | None = None) -> Starlette:  # fmt: skip
    """The Starlette app: the page, its static files and the JSON API.

    Args:
        catalog: the models it serves.
        allowed_hosts: the host names requests may be addressed to (`mnist serve` adds its own
            address, or the machine's names when it listens on every address; see security.py).
        port: the port the page is served on, which an Origin must name (None: the port each
            request came in on).
        limits: readings at once, waiting requests, body size and time limits (default: ServerLimits()).
    """
    limits = limits or ServerLimits()
    app = _App(routes=ROUTES, exception_handlers=ERROR_HANDLERS,  # type: ignore[arg-type]
               middleware=[Middleware(SameHostOnly, allowed_hosts=tuple(allowed_hosts), port=port)])  # fmt: skip
    app.state.catalog = catalog
    app.state.gate = ReadingGate(limits)
    return app

