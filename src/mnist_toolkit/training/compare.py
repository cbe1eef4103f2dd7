"""Comparing optimizers fairly: same architecture, initial weights, batch order and batch size per seed.

Each (optimizer, seed) is an ordinary training run through the engine, in its own folder under the
comparison's folder, so TensorBoard overlays their curves. With `lr_sweep`, every optimizer first
trains briefly at each learning rate of its grid; the rate with the best *validation* accuracy is
kept (the test set plays no part in the choice).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from ..files import write_json
from .callbacks import TrainCallback
from .config import TrainConfig, validate
from .optim import optimizer_info

THRESHOLDS = (98.0, 99.0)


@dataclass
class RunOutcome:
    """One finished (optimizer, seed) run."""

    optimizer: str
    seed: int
    lr: float
    run_dir: str
    history: list[dict]
    step_losses: list[tuple[int, float]] = field(repr=False, default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        last = self.history[-1]
        reached = {}
        for threshold in THRESHOLDS:
            hit = next((h["steps"] for h in self.history if h["test_acc"] >= threshold), None)
            reached[f"steps_to_{threshold:g}"] = hit
        val = [h for h in self.history if h.get("val_acc") is not None]
        best = max(val, key=lambda h: h["val_acc"])["epoch"] if val else None
        return {
            "optimizer": self.optimizer, "seed": self.seed, "lr": self.lr, "run_dir": self.run_dir,
            "final_test_accuracy": last["test_acc"], "final_test_loss": last["test_loss"],
            "final_train_loss": last["train_loss"], "best_val_epoch": best, "seconds": self.seconds, **reached,
        }  # fmt: skip


class StepLossRecorder(TrainCallback):
    """Keeps every step's training loss, for the comparison plot."""

    def __init__(self) -> None:
        self.losses: list[tuple[int, float]] = []

    def on_step(self, step) -> None:
        self.losses.append((step.global_step, step.loss))


def parse_list(text: str, cast: Callable, what: str) -> tuple:
    """'adam,nesterov' or '1,2,3' -> a tuple; raises ConfigError naming `what`."""
    try:
        values = tuple(cast(part.strip()) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{what}: expected a comma-separated list, found {text!r}") from None
    if not values:
        raise ConfigError(f"{what}: the list is empty")
    return values


def run_config(base: TrainConfig, optimizer: str, seed: int, lr: float | None) -> TrainConfig:
    """The base config for one optimizer and seed; `lr` None keeps the optimizer's own default."""
    momentum = base.momentum if optimizer_info(optimizer).takes_momentum else None  # raises UnknownName early
    return validate(replace(base, optimizer=optimizer, seed=seed, lr=lr, momentum=momentum, name=None))


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(outcomes: list[RunOutcome]) -> list[dict]:
    """Per optimizer: final test accuracy mean and std over seeds, mean final train loss, steps to 98/99 %, seconds."""
    rows = []
    for optimizer in dict.fromkeys(o.optimizer for o in outcomes):
        runs = [o.summary() for o in outcomes if o.optimizer == optimizer]
        accuracy, spread = mean_std([r["final_test_accuracy"] for r in runs])
        row = {
            "optimizer": optimizer,
            "lr": runs[0]["lr"],
            "seeds": [r["seed"] for r in runs],
            "test_accuracy_mean": accuracy,
            "test_accuracy_std": spread,
            "final_train_loss_mean": statistics.fmean(r["final_train_loss"] for r in runs),
            "best_val_epoch": [r["best_val_epoch"] for r in runs],
            "seconds_mean": statistics.fmean(r["seconds"] for r in runs),
        }
        for threshold in THRESHOLDS:
            key = f"steps_to_{threshold:g}"
            hits = [r[key] for r in runs if r[key] is not None]
            row[key] = statistics.fmean(hits) if len(hits) == len(runs) else None
        rows.append(row)
    return rows


def verdict(summary: list[dict]) -> str:
    """One sentence: which optimizer is better, by how much, and whether that exceeds the seed spread."""
    if len(summary) < 2:
        return f"Only {summary[0]['optimizer']} was run; nothing to compare."
    ranked = sorted(summary, key=lambda r: r["test_accuracy_mean"], reverse=True)
    best, runner = ranked[0], ranked[1]
    margin = best["test_accuracy_mean"] - runner["test_accuracy_mean"]
    seeds = len(best["seeds"])
    spread = max(best["test_accuracy_std"], runner["test_accuracy_std"])
    if seeds < 2:
        noise = "with one seed the seed-to-seed spread is unknown (use --seeds 1,2,3 to measure it)"
    elif margin > 2 * spread:
        noise = f"more than twice the seed-to-seed spread (std {spread:.2f} points), so the difference is real"
    elif margin > spread:
        noise = f"larger than the seed-to-seed spread (std {spread:.2f} points) but not by much"
    else:
        noise = f"within the seed-to-seed spread (std {spread:.2f} points): no real difference"
    over = f"over {seeds} seed{'s' if seeds > 1 else ''}"
    if round(margin, 2) == 0:  # equal as reported: neither beats the other
        return (f"{best['optimizer']} (lr {best['lr']:g}) and {runner['optimizer']} (lr {runner['lr']:g}) tie at "
                f"{best['test_accuracy_mean']:.2f}% final test accuracy ({over}); {noise}.")  # fmt: skip
    return (f"{best['optimizer']} (lr {best['lr']:g}) beats {runner['optimizer']} (lr {runner['lr']:g}) by "
            f"{margin:.2f} points of final test accuracy ({best['test_accuracy_mean']:.2f}% vs "
            f"{runner['test_accuracy_mean']:.2f}% {over}); {noise}.")  # fmt: skip


def comparison_png(outcomes: list[RunOutcome], path: Path) -> Path:
    """Training loss per step (smoothed) and test accuracy per epoch of every run, in one PNG."""
    import io

    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import pyplot as plt

    from ..files import atomic_write_bytes

    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    by_optimizer = {name: colours[i % len(colours)] for i, name in enumerate(dict.fromkeys(o.optimizer for o in outcomes))}
    for outcome in outcomes:
        colour = by_optimizer[outcome.optimizer]
        label = f"{outcome.optimizer} seed {outcome.seed}"
        if outcome.step_losses:
            steps, losses = np.array(outcome.step_losses).T
            window = max(1, len(losses) // 100)
            smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
            loss_axes.plot(steps[window - 1 :], smooth, color=colour, alpha=0.8, label=label)
        epochs = [h["epoch"] for h in outcome.history]
        acc_axes.plot(epochs, [h["test_acc"] for h in outcome.history], marker="o", color=colour, alpha=0.8, label=label)
    loss_axes.set(title="Training loss (moving average)", xlabel="optimizer step", ylabel="cross-entropy", yscale="log")
    acc_axes.set(title="Test accuracy after each epoch", xlabel="epoch", ylabel="accuracy (%)")
    acc_axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    for axes in (loss_axes, acc_axes):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def comparison_document(outcomes: list[RunOutcome], sweep: list[dict]) -> dict:
    """The `compare --json` document: {runs, summary, verdict, sweep}."""
    summary = summarize(outcomes)
    return {"runs": [o.summary() for o in outcomes], "summary": summary, "verdict": verdict(summary), "sweep": sweep}


def save_document(folder: Path, document: dict) -> None:
    write_json(folder / "comparison.json", document)


def _train_one(config: TrainConfig, run_dir: Path, make_callbacks: Callable, stop_event: threading.Event | None) -> RunOutcome:
    from .prepare import prepare_run

    recorder = StepLossRecorder()
    prepared = prepare_run(config, run_dir=run_dir, callbacks=lambda run: [recorder, *make_callbacks(run)], stop_event=stop_event)
    started = time.perf_counter()
    result = prepared.trainer.fit()
    return RunOutcome(config.optimizer, config.seed, prepared.trainer.lr, str(run_dir),
                      [asdict(r) for r in result.history], recorder.losses, time.perf_counter() - started)  # fmt: skip


def sweep_grid(optimizer: str) -> tuple[float, ...]:
    """The learning rates `--lr-sweep` tries for `optimizer`, from its registry entry.

    Raises:
        UnknownName: no such optimizer.
        ConfigError: the optimizer has no learning-rate grid.
    """
    grid = optimizer_info(optimizer).lr_sweep
    if not grid:
        raise ConfigError(f"--lr-sweep: optimizer {optimizer!r} has no learning-rate grid", hint="leave --lr-sweep out, or give --lr")
    return grid


def check_comparison(base: TrainConfig, optimizers: tuple[str, ...], seeds: tuple[int, ...], lr_sweep: bool = False) -> list[TrainConfig]:
    """Check a comparison before anything runs; returns the config of each optimizer's first run (to `check_runs`).

    Raises:
        UnknownName: an unknown optimizer.
        ConfigError: a name or seed given twice, an lr sweep without a validation split, or an optimizer
            without a sweep grid.
    """
    if not optimizers or not seeds:
        raise ConfigError("a comparison needs at least one optimizer and one seed")
    for optimizer in optimizers:
        optimizer_info(optimizer)
    if len(set(optimizers)) != len(optimizers):
        raise ConfigError(f"--optimizers lists a name twice: {','.join(optimizers)}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds lists a seed twice: {','.join(map(str, seeds))}")
    if lr_sweep:
        if base.val_size <= 0:
            raise ConfigError("--lr-sweep chooses learning rates on a validation split, never the test set",
                              hint="add --val-size N (e.g. 5000)")  # fmt: skip
        for optimizer in optimizers:
            sweep_grid(optimizer)
    return [run_config(base, optimizer, seeds[0], base.lr) for optimizer in optimizers]


def run_comparison(base: TrainConfig, optimizers: tuple[str, ...], seeds: tuple[int, ...], folder: Path,
                   make_callbacks: Callable, lr_sweep: bool = False,
                   on_run_done: Callable[[RunOutcome], None] | None = None,
                   stop_event: threading.Event | None = None) -> tuple[list[RunOutcome], list[dict]]:  # fmt: skip
    """Train every (optimizer, seed) into `folder/<optimizer>_seed<k>/`, after an optional validation lr sweep.

    Args:
        base: every setting but the optimizer, seed and (unless given) learning rate.
        make_callbacks: (RunSetup) -> extra engine callbacks for that run (progress, TensorBoard); the run's
            name is its folder's.
        stop_event: handed to every run's trainer (SIGINT/SIGTERM, see `signals.stop_on_signals`).

    Raises:
        UnknownName, ConfigError: see `check_comparison`, which runs first.
    """
    check_comparison(base, optimizers, seeds, lr_sweep)
    chosen = {optimizer: base.lr for optimizer in optimizers}
    sweep: list[dict] = []
    if lr_sweep:
        for optimizer in optimizers:
            trials = []
            for lr in sweep_grid(optimizer):
                config = run_config(base, optimizer, seeds[0], lr)
                outcome = _train_one(config, folder / "sweep" / f"{optimizer}_lr{lr:g}", make_callbacks, stop_event)
                val_acc = outcome.history[-1]["val_acc"]
                trials.append((val_acc, lr))
                sweep.append({"optimizer": optimizer, "lr": lr, "val_accuracy": val_acc, "run_dir": outcome.run_dir})
            chosen[optimizer] = max(trials)[1]
    outcomes = []
    for seed in seeds:
        for optimizer in optimizers:
            config = run_config(base, optimizer, seed, chosen[optimizer])
            outcome = _train_one(config, folder / f"{optimizer}_seed{seed}", make_callbacks, stop_event)
            outcomes.append(outcome)
            if on_run_done is not None:
                on_run_done(outcome)
    return outcomes, sweep
