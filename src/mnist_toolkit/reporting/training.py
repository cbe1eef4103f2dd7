"""How a training run reports itself: in a terminal, a live per-epoch table above a progress bar, then the
final table; in a pipe or a file, plain flushed lines (one per epoch and one every `log_every` steps)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..training.callbacks import EpochRecord, FitResult, StartRecord, StepRecord, TrainCallback


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

    def _view(self) -> Group:
        parts = [history_table(self.history, self.title)] if self.history else []
        return Group(*parts, self.progress)

    def on_start(self, start: StartRecord) -> None:
        self.epochs = start.epochs
        self.history = list(start.history)
        self.live = Live(self._view(), console=self.console, transient=True, refresh_per_second=4)
        self.live.start()

    def on_epoch_start(self, epoch: int, steps_in_epoch: int, start_step: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(f"epoch {epoch}/{self.epochs}", total=steps_in_epoch, completed=start_step,
                                           loss=0.0, acc=0.0, ips=0.0)  # fmt: skip

    def on_step(self, step: StepRecord) -> None:
        self.progress.update(self.task, completed=step.step_in_epoch, loss=step.running_loss, acc=step.running_acc, ips=step.images_per_second)

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.history.append(record)
        if self.live is not None:
            self.live.update(self._view())

    def on_end(self, result: FitResult) -> None:
        if self.live is not None:
            self.live.stop()
        self.console.print(history_table(result.history, self.title))

    def on_interrupted(self, checkpoint) -> None:
        if self.live is not None:
            self.live.stop()


def epoch_line(record: EpochRecord, epochs: int) -> str:
    """`epoch 3/10  train loss 0.1234 acc 96.12%  val ...  test loss 0.0456 acc 98.76%  lr 0.001  4.1 s  14,321 img/s`."""
    parts = [f"epoch {record.epoch}/{epochs}" + ("" if record.complete else " (cut)"),
             f"train loss {record.train_loss:.4f} acc {record.train_acc:.2f}%"]  # fmt: skip
    if record.val_acc is not None:
        parts.append(f"val loss {record.val_loss:.4f} acc {record.val_acc:.2f}%")
    parts += [f"test loss {record.test_loss:.4f} acc {record.test_acc:.2f}%", f"lr {record.lr:.3g}",
              f"{record.seconds:.1f} s", f"{record.images_per_second:,.0f} img/s"]  # fmt: skip
    return "  ".join(parts)


def step_line(step: StepRecord, epochs: int) -> str:
    """`step 200 (epoch 1/10, 200/469)  loss 0.2345 acc 93.10%  lr 0.001  15,210 img/s`."""
    return (f"step {step.global_step} (epoch {step.epoch}/{epochs}, {step.step_in_epoch}/{step.steps_per_epoch})  "
            f"loss {step.running_loss:.4f} acc {step.running_acc:.2f}%  lr {step.lr:.3g}  {step.images_per_second:,.0f} img/s")  # fmt: skip


class LineCallback(TrainCallback):
    """Plain lines for logs, pipes and CI: one per epoch and one every `log_every` steps, flushed at once, no ANSI codes."""

    def __init__(self, stream, log_every: int | None) -> None:
        self.stream = stream
        self.log_every = log_every
        self.epochs = 0

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def on_start(self, start: StartRecord) -> None:
        self.epochs = start.epochs
        if start.global_step:
            self._write(f"resuming at step {start.global_step} (epoch {len(start.history) + 1}/{start.epochs})")

    def on_step(self, step: StepRecord) -> None:
        if self.log_every and step.global_step % self.log_every == 0:
            self._write(step_line(step, self.epochs))

    def on_epoch_end(self, record: EpochRecord) -> None:
        self._write(epoch_line(record, self.epochs))

    def on_interrupted(self, checkpoint) -> None:
        self._write(f"interrupted: checkpoint saved to {checkpoint}")
