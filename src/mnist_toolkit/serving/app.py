"""`mnist serve`'s ASGI app: the page, its static files and the JSON API, as a list of routes.

Built on Starlette (served by uvicorn): a handful of routes and packaged static files need no more,
and it brings no validation layer or schema generator we would not use (FastAPI adds pydantic on top
of the same core). `create_app(catalog)` returns the ASGI app, so tests call it in-process.

Model ids come from the catalog's own scan ("pretrained", or a run folder's path below the runs
folder); a requested id is looked up among them and never used as a path.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import MnistError
from .answers import explain_image, predict_image
from .catalog import ModelCatalog
from .errors import RequestError
from .security import LOOPBACK_HOSTS, SameHostOnly

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_TOP_K = 10
DEFAULT_TOP_K = 3  # the page asks for no other


WEB = Path(__file__).parent / "web"
TOO_LARGE = f"body over {MAX_BODY_BYTES // (1024 * 1024)} MB"


async def read_image(request: Request) -> bytes:
    """The image of a request: the raw body, or the multipart field `image`; at most 10 MB either
    way, counted on the wire (also for chunked bodies) before anything is parsed or spooled."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestError(413, TOO_LARGE)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, TOO_LARGE)
        chunks.append(chunk)
    body = b"".join(chunks)
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


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true", "yes", "on")


def _top_k(request: Request) -> int:
    raw = request.query_params.get("top_k", str(DEFAULT_TOP_K))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TOP_K:
        raise RequestError(400, f"top_k must be an integer from 1 to {MAX_TOP_K}, not {raw!r}")
    return int(raw)


def _catalog(request: Request) -> ModelCatalog:
    return request.app.state.catalog


async def index(request: Request) -> Response:
    return FileResponse(WEB / "index.html")


async def favicon(request: Request) -> Response:  # what browsers and tools ask for by convention; the page links the same file
    return FileResponse(WEB / "favicon.svg", media_type="image/svg+xml")


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def models(request: Request) -> Response:
    catalog = _catalog(request)
    entries = await run_in_threadpool(catalog.entries)
    default = catalog.default_id(entries)
    return JSONResponse({"default": default, "models": [
        {"id": e.id, "label": e.label, "test_accuracy": e.test_accuracy, "default": e.id == default} for e in entries]})  # fmt: skip


async def predict(request: Request) -> Response:
    data = await read_image(request)
    top_k = _top_k(request)
    document = await run_in_threadpool(predict_image, _catalog(request), data, request.query_params.get("model"), _flag(request, "number"), top_k)
    return JSONResponse(document)


async def explain(request: Request) -> Response:
    data = await read_image(request)
    return JSONResponse(await run_in_threadpool(explain_image, _catalog(request), data, request.query_params.get("model")))


async def _request_error(request: Request, exc: RequestError) -> Response:
    return JSONResponse({"error": exc.message}, status_code=exc.status)


async def _mnist_error(request: Request, exc: MnistError) -> Response:  # a model that cannot be loaded, and the like
    return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=500)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


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


def create_app(catalog: ModelCatalog, allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS) -> Starlette:
    """The Starlette app: the page, its static files and the JSON API.

    Args:
        catalog: the models it serves.
        allowed_hosts: the host names requests may be addressed to ("*": any; `mnist serve --host`
            adds its own address).
    """
    app = Starlette(routes=ROUTES, exception_handlers=ERROR_HANDLERS,  # type: ignore[arg-type]
                    middleware=[Middleware(SameHostOnly, allowed_hosts=tuple(allowed_hosts))])  # fmt: skip
    app.state.catalog = catalog
    return app
