"""The live view of a comparison: the current run's progress under a side-by-side table, then the summary."""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..training.callbacks import EpochRecord, StartRecord, TrainCallback


class CompareView:
    """One Live display for the whole comparison; `callback(name)` feeds it from one run."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self.cells: dict[str, dict[int, EpochRecord]] = {}  # run name -> epoch -> record
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2f}%  {task.fields[ips]:,.0f} img/s"),
            TimeRemainingColumn(), console=console,
        )  # fmt: skip
        self.live = Live(self._view(), console=console, transient=True, refresh_per_second=4)

    def side_by_side(self) -> Table:
        table = Table(title=self.title, title_justify="left")
        table.add_column("epoch", justify="right")
        for name in self.cells:
            table.add_column(f"{name}\ntrain loss", justify="right")
            table.add_column(f"{name}\ntest acc %", justify="right")
        epochs = sorted({epoch for records in self.cells.values() for epoch in records})
        for epoch in epochs:
            row = [str(epoch)]
            for records in self.cells.values():
                record = records.get(epoch)
                row += [f"{record.train_loss:.4f}", f"{record.test_acc:.2f}"] if record else ["", ""]
            table.add_row(*row)
        return table

    def _view(self) -> Group:
        return Group(self.side_by_side(), self.progress) if self.cells else Group(self.progress)

    def __enter__(self) -> CompareView:
        self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        self.live.stop()

    def callback(self, name: str) -> TrainCallback:
        """The callback that feeds the view from the run `name`."""
        view = self
        view.cells.setdefault(name, {})

        class _Feed(TrainCallback):
            task = None
            epochs = 0

            def on_start(self, start: StartRecord):
                self.epochs = start.epochs

            def on_epoch_start(self, epoch, steps_in_epoch, start_step):
                if self.task is not None:
                    view.progress.remove_task(self.task)
                self.task = view.progress.add_task(f"{name} epoch {epoch}/{self.epochs}", total=steps_in_epoch,
                                                   completed=start_step, loss=0.0, acc=0.0, ips=0.0)  # fmt: skip

            def on_step(self, step):
                view.progress.update(self.task, completed=step.step_in_epoch, loss=step.running_loss, acc=step.running_acc,
                                     ips=step.images_per_second)  # fmt: skip

            def on_epoch_end(self, record):
                view.cells[name][record.epoch] = record
                view.live.update(view._view())

            def on_end(self, result):
                if self.task is not None:
                    view.progress.remove_task(self.task)
                    self.task = None

        return _Feed()


def _mean_std(row: dict) -> str:
    """`99.01 ± 0.05` over several seeds; over one seed the spread is unknown, so the accuracy alone."""
    if len(row["seeds"]) < 2 or row["test_accuracy_std"] is None:
        return f"{row['test_accuracy_mean']:.2f}"
    return f"{row['test_accuracy_mean']:.2f} ± {row['test_accuracy_std']:.2f}"


def summary_table(summary: list[dict]) -> Table:
    """Per optimizer: final test accuracy (mean ± std over several seeds), mean final train loss, best epoch, steps to 98/99 %, seconds."""
    table = Table(title="Comparison", title_justify="left")
    for name, justify in (("optimizer", "left"), ("lr", "right"), ("seeds", "right"), ("test acc %", "right"),
                          ("final train loss", "right"), ("best val epoch", "right"), ("steps to 98%", "right"),
                          ("steps to 99%", "right"), ("seconds", "right")):  # fmt: skip
        table.add_column(name, justify=justify)
    for row in summary:
        best = ",".join("-" if e is None else str(e) for e in row["best_val_epoch"])
        table.add_row(
            row["optimizer"], f"{row['lr']:g}", str(len(row["seeds"])),
            _mean_std(row), f"{row['final_train_loss_mean']:.4f}",
            best, "-" if row["steps_to_98"] is None else f"{row['steps_to_98']:,.0f}",
            "-" if row["steps_to_99"] is None else f"{row['steps_to_99']:,.0f}", f"{row['seconds_mean']:.1f}",
        )  # fmt: skip
    return table
