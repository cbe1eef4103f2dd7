"""The models the server offers: the pretrained one and every run under the runs folder (listed by
id, never by a path a client sends), each loaded once per version of its files.

A broken run never breaks the others. Its metrics.json is only read for the accuracy shown (unreadable:
no accuracy). Its model is loaded on first use; when that fails (a garbage or vanished checkpoint, an
unreadable ONNX model) the reason is remembered for that version of its files, so the file is not
read again on every request: the listing marks the model unusable with the reason, a request for it
gets `ModelUnavailable` (409), and the default model is the newest run that loads. Reasons and other
messages shown to clients name models by id, never by their files' paths (`plain`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MnistError
from ..runs import RunFolder, runs_newest_first
from .errors import ModelUnavailable, RequestError, replace_paths, without_terminal_codes

PRETRAINED_ID = "pretrained"
#: The id of the model given with `mnist serve --run/--checkpoint`.
SELECTED_ID = "selected"

log = logging.getLogger("mnist_toolkit.serving")


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    label: str
    test_accuracy: float | None
    choice: Any  # inference.loading.ModelChoice
    folder: Path | None = None  # the run folder, for a run


def _accuracy(read, *args) -> float | None:
    """A test accuracy, `read(*args)` from a file a run wrote: a finite number, else None (never an exception)."""
    try:
        value = read(*args)
    except Exception:  # a metrics file of any shape is only a missing accuracy
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def _version(entry: CatalogEntry) -> tuple:
    """What a loaded model (or a failure to load it) is valid for: the id and its files' paths, sizes and
    times (a run that is still training rewrites its checkpoint; the server then loads the new weights)."""
    files = []
    for path in (entry.choice.checkpoint, entry.choice.onnx):
        if path is not None:
            try:
                stat = path.stat()
                files.append((str(path), stat.st_size, stat.st_mtime_ns))
            except OSError:
                files.append((str(path), None, None))
    return (entry.id, *files)


def _spellings(path: Path) -> set[str]:
    """The ways a message may spell a path: as given, absolute, and with its links resolved."""
    return {str(path), str(path.absolute()), str(path.resolve())}


class ModelCatalog:
    """The models the server can use: the pretrained one and every run under `runs_dir`, loaded on first use.

    Args:
        runs_dir: the runs folder to list.
        default: the id used when a request names none (None: the newest run that loads, else the
            pretrained model).
        engine: auto | onnx | torch, as for `mnist predict`.
        pinned: the ModelChoice given with --run/--checkpoint (listed as "selected").
        digit_check: whether a request that does not say (`digit_check=`) is checked by the "not a digit"
            detector (False: --no-digit-check); the models are loaded with it either way.
    """

    #: Seconds a scan of the runs folder is reused (a new run shows up after at most this long).
    LISTING_SECONDS = 2.0

    def __init__(self, runs_dir: Path, default: str | None = None, engine: str = "auto", pinned=None, digit_check: bool = True) -> None:
        self.runs_dir, self.engine, self.digit_check = Path(runs_dir), engine, digit_check
        self._pinned = pinned
        self._loaded: dict[tuple, object] = {}
        self._explainers: dict[tuple, tuple] = {}
        self._failures: dict[tuple[str, str], tuple[tuple, str]] = {}  # (kind, id) -> (version, why it cannot be used)
        self._left_out: set[tuple] = set()  # runs left out of the listing, warned about once
        self._lock = threading.Lock()  # the dictionaries above
        self._loading = threading.Lock()  # one load at a time (the listing is not held up meanwhile)
        self.default = default
        self._listing: tuple[float, list[CatalogEntry]] | None = None

    # The listing.

    def entries(self) -> list[CatalogEntry]:
        """Every listed model, newest run first, the pretrained model last (rescanned every few seconds)."""
        with self._lock:
            if self._listing is not None and time.monotonic() - self._listing[0] < self.LISTING_SECONDS:
                return self._listing[1]
        listing = self._scan()
        with self._lock:
            self._listing = (time.monotonic(), listing)
        return listing

    def _scan(self) -> list[CatalogEntry]:
        from ..inference.loading import ModelChoice, pretrained_choice, pretrained_info

        entries = []
        if self._pinned is not None:
            path = self._pinned.checkpoint or self._pinned.onnx
            entries.append(CatalogEntry(SELECTED_ID, path.name, _accuracy(RunFolder.of_checkpoint(path).test_accuracy, path), self._pinned))
        for run in runs_newest_first(self.runs_dir):
            try:
                checkpoint = run.reported_checkpoint()
                run_id = run.path.relative_to(self.runs_dir).as_posix()
            except (OSError, ValueError, MnistError) as exc:  # a run that disappears or breaks while being listed
                self._leave_out(run, exc)
                continue
            entries.append(CatalogEntry(run_id, f"{run_id} ({checkpoint.name})", _accuracy(run.test_accuracy, checkpoint),
                                        ModelChoice("run", checkpoint, RunFolder.onnx_of(checkpoint)), run.path))  # fmt: skip
        try:
            card = pretrained_info() or {}
            card = card if isinstance(card, dict) else {}
            preset = card.get("preset", "robust")
            entries.append(CatalogEntry(PRETRAINED_ID, f"pretrained ({preset} preset)", _accuracy(card.get, "test_accuracy"), pretrained_choice()))
        except MnistError:
            pass
        return entries

    def _leave_out(self, run: RunFolder, exc: Exception) -> None:
        key = (str(run.path), type(exc).__name__)
        with self._lock:
            if key in self._left_out:
                return
            self._left_out.add(key)
        reason = exc.message if isinstance(exc, MnistError) else type(exc).__name__
        log.warning("run %s left out of the models: %s", self._name_of(run.path), self.plain(reason))

    def _name_of(self, path: Path) -> str:
        try:
            return path.relative_to(self.runs_dir).as_posix()
        except ValueError:
            return path.name

    def usable(self, entry: CatalogEntry) -> str | None:
        """None when the entry may be used (loaded, or not tried yet), else why its current files cannot be."""
        with self._lock:
            failure = self._failures.get(("load", entry.id))
        return failure[1] if failure is not None and failure[0] == _version(entry) else None

    def default_id(self, entries: list[CatalogEntry]) -> str:
        """The model a request without `model` gets: the one `mnist serve` was given, else the newest
        `mnist train` run that loads (as for `mnist predict`, compare and experiments sub-runs only when
        picked), else the pretrained model. Runs not tried yet are loaded here, newest first."""
        if self.default is not None:
            return self.default
        top = self.runs_dir.resolve()
        for entry in entries:
            if entry.folder is not None and entry.folder.parent.resolve() == top:
                try:
                    self._load(entry)
                except ModelUnavailable:
                    continue
                return entry.id
        return PRETRAINED_ID

    def entry(self, model_id: str | None) -> CatalogEntry:
        """The listed entry of an id (None: the default model's).

        Raises:
            RequestError: 404, no such model.
        """
        entries = self.entries()
        wanted = model_id or self.default_id(entries)
        for entry in entries:
            if entry.id == wanted:
                return entry
        shown = repr(wanted[:100]) if not wanted.startswith(("/", "\\", "~")) else "(a path)"
        raise RequestError(404, f"unknown model {shown}; see GET /api/models")

    # Loading.

    def model(self, model_id: str | None):
        """(entry, LoadedModel) for an id, loaded once per version of its files.

        Raises:
            RequestError: 404, no such model.
            ModelUnavailable: its files cannot be loaded (409).
        """
        entry = self.entry(model_id)
        return entry, self._load(entry)

    def _load(self, entry: CatalogEntry):
        from ..inference.loading import load_model

        return self._cached(entry, self._loaded, lambda: load_model(entry.choice, self.engine))

    def explainer(self, entry: CatalogEntry):
        """(torch module, normalisation, lock) of an entry: feature maps and saliency need torch, and
        one model's hooks must not see another request's forward pass, hence the lock per model.

        Raises:
            RequestError: 400, the model is an ONNX file only.
            ModelUnavailable: its checkpoint cannot be loaded (409).
        """
        if entry.choice.checkpoint is None:
            raise RequestError(400, "this model is an ONNX file only; feature maps need its torch checkpoint")

        def build():
            from ..inference.checkpoint import load_checkpoint, rebuild_model

            payload = load_checkpoint(entry.choice.checkpoint)
            return rebuild_model(payload), payload["normalization"], threading.Lock()

        return self._cached(entry, self._explainers, build, kind="explain")

    def _cached(self, entry: CatalogEntry, cache: dict, build, kind: str = "load"):
        """`cache[version]`, built once per version of the entry's files; a failure is remembered per
        version too (and logged once), so a broken file is not read again until it changes."""
        key = _version(entry)
        with self._lock:
            if key in cache:
                return cache[key]
            failure = self._failures.get((kind, entry.id))
            if failure is not None and failure[0] == key:
                raise ModelUnavailable(entry.id, failure[1])
        with self._loading:
            with self._lock:
                if key in cache:
                    return cache[key]
            try:
                built = build()
            except Exception as exc:  # a file of any content: a typed reason when we know one, else its type
                reason = self.plain(exc.message if isinstance(exc, MnistError) else f"cannot load it ({type(exc).__name__})")
                log.warning("model %s cannot be used%s: %s", entry.id, " for feature maps" if kind == "explain" else "", reason)
                with self._lock:
                    self._failures[(kind, entry.id)] = (key, reason)
                raise ModelUnavailable(entry.id, reason) from None
            with self._lock:
                for old in [k for k in cache if k[0] == entry.id]:
                    del cache[old]
                cache[key] = built
                self._failures.pop((kind, entry.id), None)
            return built

    # Messages fit for a client.

    def plain(self, text: str) -> str:
        """`text` as the API may show it: no terminal codes, each model's files named by its id, run
        folders by their ids, and any other absolute path by its last part."""
        names: dict[str, str] = {}
        with self._lock:
            listing = self._listing[1] if self._listing is not None else []
        for entry in listing:
            for path in (entry.choice.checkpoint, entry.choice.onnx):
                if path is not None:
                    names.update(dict.fromkeys(_spellings(path), f"{entry.id} ({path.name})"))
            if entry.folder is not None:
                names.update(dict.fromkeys(_spellings(entry.folder), entry.id))
        folder = _spellings(self.runs_dir)
        if not self.runs_dir.is_absolute():
            folder.discard(str(self.runs_dir))  # "runs" as given is also a plain word
        names.update(dict.fromkeys(folder, "the runs folder"))
        return replace_paths(without_terminal_codes(text), names)
