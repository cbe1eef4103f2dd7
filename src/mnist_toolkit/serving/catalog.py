"""The models the server offers: the pretrained one and every run under the runs folder (listed by
id, never by a path a client sends), each loaded once per version of its files."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, MnistError
from ..runs import RunFolder, newest_run, runs_newest_first
from .errors import RequestError

PRETRAINED_ID = "pretrained"


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    label: str
    test_accuracy: float | None
    choice: Any  # inference.loading.ModelChoice


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
        from ..inference.loading import ModelChoice, pretrained_choice, pretrained_info

        entries = []
        if self._pinned is not None:
            path = self._pinned.checkpoint or self._pinned.onnx
            entries.append(CatalogEntry("selected", f"{path}", RunFolder.of_checkpoint(path).test_accuracy(path), self._pinned))
        for run in runs_newest_first(self.runs_dir):
            try:
                checkpoint = run.reported_checkpoint()
            except (OSError, MnistError):  # a run that disappears or breaks while being listed is left out
                continue
            run_id = run.path.relative_to(self.runs_dir).as_posix()
            entries.append(CatalogEntry(run_id, f"{run_id} ({checkpoint.name})", run.test_accuracy(checkpoint),
                                        ModelChoice("run", checkpoint, RunFolder.onnx_of(checkpoint))))  # fmt: skip
        try:
            card = pretrained_info() or {}
            entries.append(CatalogEntry(PRETRAINED_ID, f"pretrained ({card.get('preset', 'robust')} preset)",
                                        card.get("test_accuracy"), pretrained_choice()))  # fmt: skip
        except MnistError:
            pass
        return entries

    def default_id(self, entries: list[CatalogEntry]) -> str:
        """The model a request without `model` gets: the one `mnist serve` was given, else the newest
        `mnist train` run (as for `mnist predict`; compare and experiments sub-runs only when picked),
        else the pretrained model."""
        if self.default is not None:
            return self.default
        try:
            newest = newest_run(self.runs_dir).path.relative_to(self.runs_dir).as_posix()
        except (CheckpointError, ValueError):
            return PRETRAINED_ID
        return newest if any(entry.id == newest for entry in entries) else PRETRAINED_ID

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
