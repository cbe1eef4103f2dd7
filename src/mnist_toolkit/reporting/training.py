"""The live view of a training run: a per-epoch table above a progress bar, then the final table."""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..engine import EpochRecord, FitResult, TrainCallback, Trainer


def history_table(history: list[EpochRecord], title: str = "Training") -> Table:
    """Epoch, train loss/acc, (val), test loss/acc, lr, seconds."""
    has_val = any(r.val_acc is not None for r in history)
    table = Table(title=title, title_justify="left")
    columns = ["epoch", "train loss", "train acc %"] + (["val loss", "val acc %"] if has_val else [])
    columns += ["test loss", "test acc %", "lr", "seconds", "img/s"]
    for name in columns:
        table.add_column(name, justify="right")
    for r in history:
        row = [f"{r.epoch}" + ("" if r.complete else "*"), f"{r.train_loss:.4f}", f"{r.train_acc:.2f}"]
        if has_val:
            row += ["-" if r.val_loss is None else f"{r.val_loss:.4f}", "-" if r.val_acc is None else f"{r.val_acc:.2f}"]
        row += [f"{r.test_loss:.4f}", f"{r.test_acc:.2f}", f"{r.lr:.3g}", f"{r.seconds:.1f}", f"{r.images_per_second:,.0f}"]
        table.add_row(*row)
    return table


class ConsoleCallback(TrainCallback):
    """Live progress (loss, accuracy, images/s, ETA) and a growing per-epoch table."""

    def __init__(self, console: Console, title: str = "Training") -> None:
        self.console = console
        self.title = title
        self.history: list[EpochRecord] = []
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2f}%  {task.fields[ips]:,.0f} img/s"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = None
        self.live: Live | None = None
        self.epochs = 0
        self._last_refresh = 0

    def _view(self) -> Group:
        parts = [history_table(self.history, self.title)] if self.history else []
        return Group(*parts, self.progress)

    def on_start(self, trainer: Trainer) -> None:
        self.epochs = trainer.config.epochs
        self.history = list(trainer.history)
        self.live = Live(self._view(), console=self.console, transient=True, refresh_per_second=4)
        self.live.start()

    def on_epoch_start(self, epoch: int, steps_in_epoch: int, start_step: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(f"epoch {epoch}/{self.epochs}", total=steps_in_epoch, completed=start_step,
                                           loss=0.0, acc=0.0, ips=0.0)  # fmt: skip

    def on_step(self, global_step, step_in_epoch, loss, running_loss, running_acc, images_per_second, lr) -> None:
        self.progress.update(self.task, completed=step_in_epoch, loss=running_loss, acc=running_acc, ips=images_per_second)

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.history.append(record)
        if self.live is not None:
            self.live.update(self._view())

    def on_end(self, result: FitResult, trainer: Trainer) -> None:
        if self.live is not None:
            self.live.stop()
        self.console.print(history_table(result.history, self.title))
