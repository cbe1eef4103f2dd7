"""`mnist serve`: one page to draw digits on and a JSON API, over the same preprocessing and models as
`mnist predict`.

Built on Starlette (served by uvicorn): a handful of routes and packaged static files need no more,
and it brings no validation layer or schema generator we would not use (FastAPI adds pydantic on top
of the same core). `create_app(catalog)` returns the ASGI app, so tests call it in-process.

Model ids come from the catalog's own scan ("pretrained", or a run folder's path below the runs
folder); a requested id is looked up among them and never used as a path.
"""

from __future__ import annotations

import base64
import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MnistError

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_TOP_K = 10
PRETRAINED_ID = "pretrained"


class RequestError(MnistError):
    """A request the API answers with a 4xx status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    label: str
    test_accuracy: float | None
    choice: object  # model_source.ModelChoice


class ModelCatalog:
    """The models the server can use: the pretrained one and every run under `runs_dir`, loaded on first use.

    Args:
        runs_dir: the runs folder to list.
        default: the id used when a request names none (None: the newest run, else the pretrained model).
        engine: auto | onnx | torch, as for `mnist predict`.
    """

    def __init__(self, runs_dir: Path, default: str | None = None, engine: str = "auto", pinned=None) -> None:
        self.runs_dir, self.engine = Path(runs_dir), engine
        self._pinned = pinned  # a ModelChoice given with --run/--checkpoint
        self._loaded: dict[str, object] = {}
        self._explainers: dict[str, object] = {}
        self._lock = threading.Lock()
        self.default = default
        self._listing: tuple[float, list[CatalogEntry]] | None = None

    #: Seconds a scan of the runs folder is reused (a new run shows up after at most this long).
    LISTING_SECONDS = 2.0

    def entries(self) -> list[CatalogEntry]:
        """Every usable model, newest run first, the pretrained model last (rescanned every few seconds)."""
        import time

        with self._lock:
            if self._listing is not None and time.monotonic() - self._listing[0] < self.LISTING_SECONDS:
                return self._listing[1]
        listing = self._scan()
        with self._lock:
            self._listing = (time.monotonic(), listing)
        return listing

    def _scan(self) -> list[CatalogEntry]:
        from ..inference.loading import ModelChoice, onnx_beside, pretrained_choice, pretrained_info
        entries = []
        if self._pinned is not None:
            path = self._pinned.checkpoint or self._pinned.onnx
            entries.append(CatalogEntry("selected", f"{path}", _metrics_accuracy(path), self._pinned))
        for run, checkpoint in _runs_newest_first(self.runs_dir):
            run_id = run.relative_to(self.runs_dir).as_posix()
            entries.append(CatalogEntry(run_id, f"{run_id} ({checkpoint.name})", _metrics_accuracy(checkpoint),
                                        ModelChoice("run", checkpoint, onnx_beside(checkpoint))))  # fmt: skip
        try:
            card = pretrained_info() or {}
            entries.append(CatalogEntry(PRETRAINED_ID, f"pretrained ({card.get('preset', 'robust')} preset)",
                                        card.get("test_accuracy"), pretrained_choice()))  # fmt: skip
        except MnistError:
            pass
        return entries

    def default_id(self, entries: list[CatalogEntry]) -> str:
        if self.default is not None:
            return self.default
        return entries[0].id if entries else PRETRAINED_ID

    def entry(self, model_id: str | None) -> CatalogEntry:
        entries = self.entries()
        wanted = model_id or self.default_id(entries)
        for entry in entries:
            if entry.id == wanted:
                return entry
        raise RequestError(404, f"unknown model {wanted!r}; see GET /api/models")

    @staticmethod
    def _version(entry: CatalogEntry) -> tuple:
        """What a cached model is valid for: the id and the files' paths and times (a run that is still
        training rewrites its checkpoint; the server then loads the new weights)."""
        files = [p for p in (entry.choice.checkpoint, entry.choice.onnx) if p is not None]
        return (entry.id, *((str(p), p.stat().st_mtime if p.is_file() else None) for p in files))

    def model(self, model_id: str | None):
        """(entry, LoadedModel) for an id, loaded once per version of its files."""
        from ..inference.loading import load_model

        entry = self.entry(model_id)
        key = self._version(entry)
        with self._lock:
            if key not in self._loaded:
                self._loaded = {k: v for k, v in self._loaded.items() if k[0] != entry.id}
                self._loaded[key] = load_model(entry.choice, self.engine)
            return entry, self._loaded[key]

    def explainer(self, entry: CatalogEntry):
        """(torch module, normalisation, lock) of an entry: feature maps and saliency need torch, and
        one model's hooks must not see another request's forward pass, hence the lock per model."""
        key = self._version(entry)
        with self._lock:
            if key not in self._explainers:
                if entry.choice.checkpoint is None:
                    raise RequestError(400, "this model is an ONNX file only; feature maps need its torch checkpoint")
                from ..inference.checkpoint import load_checkpoint, rebuild_model

                payload = load_checkpoint(entry.choice.checkpoint)
                self._explainers = {k: v for k, v in self._explainers.items() if k[0] != entry.id}
                self._explainers[key] = (rebuild_model(payload), payload["normalization"], threading.Lock())
            return self._explainers[key]


def _runs_newest_first(runs_dir: Path) -> list[tuple[Path, Path]]:
    """(run folder, its reported checkpoint) of every run under `runs_dir`, newest first; a run that
    disappears or breaks while being listed is left out."""
    from ..runs import checkpoint_of, runs_newest_first

    found = []
    for run in runs_newest_first(runs_dir):
        try:
            found.append((run, checkpoint_of(run, prefer_best=True)))
        except (OSError, MnistError):
            continue
    return found


def _metrics_accuracy(path: Path) -> float | None:
    """A checkpoint's test accuracy from its run's metrics.json (no torch needed)."""
    import json

    if path is None:
        return None
    metrics = path.parent.parent / "metrics.json"
    try:
        document = json.loads(metrics.read_text())
    except (OSError, ValueError):
        return None
    history = [r for r in document.get("history", []) if r.get("complete", True)]
    if path.stem == "best" and document.get("best_epoch"):
        history = [r for r in history if r["epoch"] == document["best_epoch"]]
    return history[-1]["test_acc"] if history else None


def png_base64(image: np.ndarray) -> str:
    """A uint8 grayscale array as a base64 PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _answer(logits: np.ndarray, top_k: int) -> list[dict]:
    from ..inference.evaluation import ranked, softmax

    rows = []
    for p in softmax(logits):
        likeliest = ranked(p, top_k)
        rows.append({"digit": likeliest[0]["digit"], "confidence": likeliest[0]["p"], "top_k": likeliest,
                     "probabilities": [float(v) for v in p]})  # fmt: skip
    return rows


def _prepare_upload(data: bytes, number: bool) -> list:
    """The model inputs of an uploaded image (one per digit with `number`); a bad image is a 400."""
    from ..reading.prepare import prepare_bytes, prepare_number_bytes

    try:
        return prepare_number_bytes(data, "upload") if number else [prepare_bytes(data, "upload")]
    except MnistError as exc:
        raise RequestError(400, exc.message) from None
    except Exception as exc:  # a decoder bug on hostile input is still the client's bad image
        raise RequestError(400, f"cannot decode the image ({type(exc).__name__})") from None


def predict_image(catalog: ModelCatalog, data: bytes, model_id: str | None, number: bool, top_k: int) -> dict:
    """The API's answer for one image: what `mnist predict` (or `--number`) reads in it."""
    entry, loaded = catalog.model(model_id)
    parts = _prepare_upload(data, number)
    answers = _answer(loaded.predictor.logits(np.stack([p.image for p in parts])), top_k)
    for answer, part in zip(answers, parts):
        answer["input_png"] = png_base64(part.image)
        answer["box"] = list(part.box) if part.box else None
    first = max(range(len(parts)), key=lambda i: int(parts[i].image.sum())) if not number else 0
    document = {**answers[first], "model": entry.id, "engine": loaded.engine}
    if number:
        document["number"] = "".join(str(a["digit"]) for a in answers)
        document["confidence"] = float(np.prod([a["confidence"] for a in answers]))
        document["digits"] = answers
    elif parts[0].digits_seen > 1:
        document["warning"] = "several separated digits seen; read as one digit (try number=true)"
    return document


def explain_image(catalog: ModelCatalog, data: bytes, model_id: str | None) -> dict:
    """Feature maps of the first convolutions and a saliency map for one digit image."""
    from ..inference.explain import explain

    entry = catalog.entry(model_id)
    prepared = _prepare_upload(data, number=False)[0]
    model, norm, lock = catalog.explainer(entry)
    with lock:
        seen = explain(model, prepared.image, norm["mean"], norm["std"])
    return {
        "model": entry.id,
        "digit": seen["digit"],
        "input_png": png_base64(prepared.image),
        "saliency_png": png_base64(seen["saliency"]),
        "feature_maps": [{"layer": m["layer"], "channels": m["channels"], "size": m["size"],
                          "maps": [png_base64(a) for a in m["maps"]]} for m in seen["feature_maps"]],  # fmt: skip
        "saliency": "input gradients |d logit / d pixel|",
    }


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class SameHostOnly:
    """ASGI middleware: answer only requests addressed to an allowed host name (a web page that
    rebinds its own DNS name to 127.0.0.1 gets 400), and refuse a POST that a page from another
    origin sends (403): only this server's own page may post to it."""

    def __init__(self, app, allowed_hosts: tuple[str, ...]) -> None:
        self.app, self.allowed = app, {h.lower().strip("[]") for h in allowed_hosts}

    @staticmethod
    def _host(value: str) -> str:
        value = value.lower()
        if value.startswith("["):
            return value[1 : value.find("]")] if "]" in value else value
        return value.rsplit(":", 1)[0] if value.count(":") == 1 else value

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and "*" not in self.allowed:
            from starlette.responses import JSONResponse

            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            host = self._host(headers.get("host", ""))
            if host not in self.allowed:
                await JSONResponse({"error": f"unexpected Host {host!r}"}, status_code=400)(scope, receive, send)
                return
            origin = headers.get("origin")
            if scope.get("method") == "POST" and origin and origin != "null":
                origin_host = self._host(origin.split("://", 1)[-1].split("/", 1)[0])
                if origin_host not in self.allowed:
                    await JSONResponse({"error": "cross-origin request refused"}, status_code=403)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(catalog: ModelCatalog, allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS):
    """The Starlette app: the page, its static files and the JSON API.

    Args:
        catalog: the models it serves.
        allowed_hosts: the host names requests may be addressed to ("*": any; `mnist serve --host`
            adds its own address).
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    web = Path(__file__).parent / "web"

    too_large = f"body over {MAX_BODY_BYTES // (1024 * 1024)} MB"

    async def read_image(request: Request) -> bytes:
        """The image of a request: the raw body, or the multipart field `image`; at most 10 MB either
        way, counted on the wire (also for chunked bodies) before anything is parsed or spooled."""
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise RequestError(413, too_large)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RequestError(413, too_large)
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

    def flag(request: Request, name: str) -> bool:
        return request.query_params.get(name, "false").lower() in ("1", "true", "yes", "on")

    async def index(request: Request):
        return FileResponse(web / "index.html")

    async def health(request: Request):
        return JSONResponse({"status": "ok"})

    async def models(request: Request):
        entries = await run_in_threadpool(catalog.entries)
        default = catalog.default_id(entries)
        return JSONResponse({"default": default, "models": [
            {"id": e.id, "label": e.label, "test_accuracy": e.test_accuracy, "default": e.id == default} for e in entries]})  # fmt: skip

    async def predict(request: Request):
        data = await read_image(request)
        raw_k = request.query_params.get("top_k", "3")
        if not (raw_k.isascii() and raw_k.isdigit()) or not 1 <= int(raw_k) <= MAX_TOP_K:
            raise RequestError(400, f"top_k must be an integer from 1 to {MAX_TOP_K}, not {raw_k!r}")
        document = await run_in_threadpool(predict_image, catalog, data, request.query_params.get("model"), flag(request, "number"), int(raw_k))
        return JSONResponse(document)

    async def explain(request: Request):
        data = await read_image(request)
        return JSONResponse(await run_in_threadpool(explain_image, catalog, data, request.query_params.get("model")))

    async def request_error(request: Request, exc: RequestError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    async def mnist_error(request: Request, exc: MnistError):  # a model that cannot be loaded, and the like
        return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=500)

    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    async def server_error(request: Request, exc: Exception):  # a bug: still JSON, still one line
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); see the server's log"}, status_code=500)

    routes = [
        Route("/", index),
        Route("/api/health", health),
        Route("/api/models", models),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/explain", explain, methods=["POST"]),
        Mount("/static", StaticFiles(directory=web), name="static"),
    ]
    handlers = {RequestError: request_error, MnistError: mnist_error, HTTPException: http_error, Exception: server_error}
    return Starlette(routes=routes, exception_handlers=handlers,
                     middleware=[Middleware(SameHostOnly, allowed_hosts=tuple(allowed_hosts))])  # fmt: skip
