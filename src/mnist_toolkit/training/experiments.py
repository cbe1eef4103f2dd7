"""The design notes' experiment grid: each change, one at a time, against the baseline, through the engine.

A grid is a baseline (options every experiment starts from) and named experiments (the options each
changes). The default grid is the design notes'; `--grid FILE.toml` gives another in the same form:

    [baseline]
    lr = 1e-3
    batch-size = 64

    [[experiment]]
    name = "batch-128"
    change = "batch size 128"
    batch-size = 128

Each experiment is a run in `<grid folder>/<name>/`; a grid folder can be resumed: finished
experiments are skipped, an interrupted one continues from its checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import build_train_config, check_option_names, read_toml
from ..errors import CheckpointError, ConfigError, ConfigFileError
from ..files import atomic_write_bytes, write_json
from ..runs import RunFolder

#: The design notes' baseline: lr 1e-3, batch 64, 10 epochs, 1 conv layer, 1 FC layer, Adam.
BASELINE: dict = {"arch": "cnn", "optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 10, "conv_layers": 1, "fc_layers": 1}


@dataclass(frozen=True)
class Experiment:
    """One change against the baseline."""

    name: str
    change: str  # what differs from the baseline, in words
    options: dict = field(default_factory=dict)


DEFAULT_GRID: tuple[Experiment, ...] = (
    Experiment("baseline", "-"),
    Experiment("batch-128", "batch size 128", {"batch_size": 128}),
    Experiment("batch-256", "batch size 256", {"batch_size": 256}),
    Experiment("kernel-5x5", "kernel 5x5", {"kernel_size": 5}),
    Experiment("stride-2", "stride 2", {"stride": 2}),
    Experiment("epochs-20", "20 epochs", {"epochs": 20}),
    Experiment("epochs-5", "5 epochs", {"epochs": 5}),
    Experiment("lr-1e-4", "lr 1e-4", {"lr": 1e-4}),
    Experiment("lr-1e-2", "lr 1e-2", {"lr": 1e-2}),
    Experiment("conv2-fc3", "2 conv + 3 FC layers", {"conv_layers": 2, "fc_layers": 3}),
)


def load_grid(path: str | Path) -> tuple[dict, list[Experiment]]:
    """Read a grid file: `[baseline]` options and `[[experiment]]` tables with name, change and options.

    Raises:
        ConfigFileError: unreadable or bad TOML, unknown tables, no experiments, a missing or repeated name.
        ConfigError: an unknown option.
    """
    data = read_toml(path)
    unknown = sorted(set(data) - {"baseline", "experiment"})
    if unknown:
        raise ConfigFileError(f"{path}: unknown table(s) {', '.join(unknown)}", hint="a grid has [baseline] and [[experiment]] tables")
    baseline = check_option_names(data.get("baseline", {}), f"{path} [baseline]")
    tables = data.get("experiment", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigFileError(f"{path}: no [[experiment]] tables", hint="add at least one [[experiment]] with a name")
    experiments, seen = [], set()
    for index, table in enumerate(tables, start=1):
        table = dict(table)
        name = table.pop("name", None)
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ConfigFileError(f"{path}: experiment {index} needs a name (a plain folder name)")
        if name in seen:
            raise ConfigFileError(f"{path}: experiment name {name!r} is used twice")
        seen.add(name)
        change = str(table.pop("change", "-"))
        experiments.append(Experiment(name, change, check_option_names(table, f"{path} experiment {name!r}")))
    if "baseline" not in seen:
        experiments.insert(0, Experiment("baseline", "-"))
    return {**BASELINE, **baseline}, experiments


def select(experiments: list[Experiment], only: list[str] | None) -> list[Experiment]:
    """Keep the named experiments (and the baseline, which every difference refers to)."""
    if not only:
        return list(experiments)
    names = {e.name for e in experiments}
    missing = [name for name in only if name not in names]
    if missing:
        raise ConfigError(f"--only: no experiment named {', '.join(missing)}", hint=f"the grid has {', '.join(sorted(names))}")
    return [e for e in experiments if e.name in only or e.name == "baseline"]


def experiment_config(baseline: dict, experiment: Experiment, overrides: dict):
    """The TrainConfig of an experiment: baseline, its change, then overrides (`epochs` caps, others replace)."""
    options = {**baseline, **experiment.options}
    cap = overrides.get("epochs")
    if cap is not None:
        options["epochs"] = min(int(options.get("epochs", 10)), int(cap))
    options.update({k: v for k, v in overrides.items() if k != "epochs" and v is not None})
    return build_train_config(options)


def result_row(experiment: Experiment, run_dir: Path, params: int) -> dict:
    """The results-table row of a finished experiment, read back from its metrics.json."""
    history = (RunFolder(run_dir).metrics() or {}).get("history") or []
    if not history:
        raise CheckpointError(f"{run_dir}: no epoch recorded in its metrics.json", hint="run the grid again with --resume")
    last = history[-1]
    return {
        "name": experiment.name, "change": experiment.change, "params": params,
        "seconds_per_epoch": statistics.fmean(h["seconds"] for h in history), "total_seconds": sum(h["seconds"] for h in history),
        "epochs": last["epoch"], "final_train_loss": last["train_loss"], "test_accuracy": last["test_acc"],
        "test_loss": last["test_loss"], "run_dir": str(run_dir),
    }  # fmt: skip


GRID_FILE = "grid.json"


def read_grid_folder(folder: Path) -> tuple[dict, list[Experiment], dict]:
    """(baseline, experiments, overrides) of a grid folder made by `run_grid`, to resume it.

    Raises:
        ConfigFileError: no readable grid.json there.
    """
    saved = Path(folder) / GRID_FILE
    if not saved.is_file():
        raise ConfigFileError(f"{folder}: no grid.json, not a grid folder", hint="pass a folder made by `mnist experiments`")
    try:
        document = json.loads(saved.read_text(encoding="utf-8"))
        return document["baseline"], [Experiment(**e) for e in document["experiments"]], document["overrides"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigFileError(f"{saved}: not a grid file written by `mnist experiments` ({type(exc).__name__})",
                          hint="pass a folder made by `mnist experiments`") from None  # fmt: skip


def run_grid(folder: Path, baseline: dict, experiments: list[Experiment], overrides: dict,
             make_callbacks: Callable, on_done: Callable[[dict, str], None] | None = None,
             stop_event: threading.Event | None = None) -> list[dict]:  # fmt: skip
    """Run (or resume) every experiment into `folder/<name>/`; returns result rows with `vs_baseline`.

    Args:
        overrides: options applied to every experiment (`epochs` caps the experiment's own).
        make_callbacks: (RunSetup) -> extra engine callbacks; the experiment's name is its folder's.
        on_done: called with each row and how it was obtained ("ran", "resumed", "skipped").
        stop_event: handed to every experiment's trainer (SIGINT/SIGTERM, see `signals.stop_on_signals`).
    """
    from ..inference.checkpoint import load_checkpoint
    from .prepare import prepare_run

    write_json(folder / GRID_FILE, {"baseline": baseline, "overrides": overrides,
                                      "experiments": [e.__dict__ for e in experiments]})  # fmt: skip
    rows = []
    for experiment in experiments:
        config = experiment_config(baseline, experiment, overrides)
        run_dir = folder / experiment.name
        last = RunFolder(run_dir).last_checkpoint
        if RunFolder(run_dir).is_finished(config.epochs):
            how = "skipped"
            params = int(load_checkpoint(last).get("params", 0))
        else:
            if last.is_file():
                how = "resumed"
                prepared = prepare_run(None, resume=run_dir, callbacks=make_callbacks, stop_event=stop_event)
            else:
                how = "ran"
                if run_dir.exists():  # started but killed before its first checkpoint: nothing to keep
                    shutil.rmtree(run_dir)
                prepared = prepare_run(config, run_dir=run_dir, callbacks=make_callbacks, stop_event=stop_event)
            prepared.trainer.fit()
            params = prepared.trainer.params
        row = result_row(experiment, run_dir, params)
        rows.append(row)
        if on_done is not None:
            on_done(row, how)
    base = next((r for r in rows if r["name"] == "baseline"), None)
    for row in rows:
        row["vs_baseline"] = None if base is None else row["test_accuracy"] - base["test_accuracy"]
    return rows


def write_results(folder: Path, rows: list[dict]) -> dict[str, str]:
    """results.csv, results.json and results.md in the grid folder, each written atomically."""
    columns = ["name", "change", "params", "seconds_per_epoch", "total_seconds", "final_train_loss", "test_accuracy", "vs_baseline"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(folder / "results.csv", text.getvalue().encode())
    write_json(folder / "results.json", rows)
    atomic_write_bytes(folder / "results.md", markdown_table(rows).encode())
    return {kind: str(folder / f"results.{kind}") for kind in ("csv", "json", "md")}


def markdown_table(rows: list[dict]) -> str:
    lines = ["| experiment | change | parameters | s/epoch | total s | final train loss | test accuracy | vs baseline |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        delta = "-" if r["vs_baseline"] is None or r["name"] == "baseline" else f"{r['vs_baseline']:+.2f}"
        lines.append(f"| {r['name']} | {r['change']} | {r['params']:,} | {r['seconds_per_epoch']:.1f} | {r['total_seconds']:.0f} | "
                     f"{r['final_train_loss']:.4f} | {r['test_accuracy']:.2f}% | {delta} |")  # fmt: skip
    return "\n".join(lines) + "\n"
