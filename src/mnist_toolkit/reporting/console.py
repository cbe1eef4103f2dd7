"""Rich rendering: tables of facts, digits drawn with half-block characters, download progress."""

from __future__ import annotations

import os

import numpy as np
from rich.columns import Columns
from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from ..data.download import DownloadListener, FileOutcome
from ..data.resources import Resource

#: Pixel value above which a half cell counts as ink when drawn without colour.
_INK = 96


def make_console(json_mode: bool = False, quiet: bool = False) -> Console:
    """The console for human output: stdout normally, stderr when stdout carries JSON; `quiet` prints nothing."""
    console = Console(stderr=json_mode, highlight=False, quiet=quiet)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=json_mode, highlight=False, width=120, quiet=quiet)  # logs and pipes: room for the tables
    return console


def digit_text(image: np.ndarray) -> Text:
    """Draw one 2-D image with half blocks: each character shows two pixel rows, ink in shades of grey."""
    image = np.asarray(image)
    if image.size == 0:
        return Text("(empty image)\n")
    if image.dtype != np.uint8:
        low, high = float(image.min()), float(image.max())
        image = ((image.astype(np.float64) - low) / ((high - low) or 1.0) * 255).astype(np.uint8)
    if image.shape[0] % 2:
        image = np.vstack([image, np.zeros((1, image.shape[1]), dtype=np.uint8)])
    text = Text()
    for row in range(0, image.shape[0], 2):
        top, bottom = image[row], image[row + 1]
        for upper, lower in zip(top.tolist(), bottom.tolist()):
            glyph = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}[
                (upper > _INK, lower > _INK)
            ]
            shade = max(upper, lower)
            text.append(glyph, style=f"rgb({shade},{shade},{shade})" if glyph != " " else None)
        text.append("\n")
    return text


def digits_panel(images: np.ndarray, captions: list[str] | None = None) -> Columns:
    """Several digits side by side, each with a caption underneath."""
    cells = []
    for index, image in enumerate(images):
        caption = captions[index] if captions else f"#{index}"
        cells.append(Group(digit_text(image), Text(caption, style="bold")))
    return Columns(cells, padding=(0, 2))


def idx_facts_table(facts: dict) -> Table:
    """The header and size facts of one IDX file."""
    table = Table(title=f"IDX file {facts['file']}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    dims = " x ".join(f"{d:,}" for d in facts["dims"])
    known = facts["known_mnist"]
    rows = [
        ("magic", f"{facts['magic']} ({int(facts['magic'], 16)})"),
        ("type", f"{facts['type_code']} {facts['type']}"),
        ("dimensions", f"{facts['ndim']}: {dims}"),
        ("items", f"{facts['item_count']:,}"),
        ("file size", f"{facts['file_bytes']:,} bytes" + (" (gzip)" if facts["gzipped"] else " (raw)")),
        ("data size", f"{facts['data_bytes']:,} bytes"),
        ("SHA-256", facts["sha256"]),
        ("known MNIST file", f"[green]yes: {known}[/green]" if known else "no"),
    ]
    if "pixels" in facts and facts["pixels"]["min"] is not None:
        p = facts["pixels"]
        rows.append(("pixels", f"min {p['min']:g}  max {p['max']:g}  mean {p['mean']:.4f}  std {p['std']:.4f}"))
    if facts.get("labels_file"):
        rows.append(("labels beside it", facts["labels_file"]))
    for name, value in rows:
        table.add_row(name, value)
    return table


def class_counts_table(counts: dict[str, int], title: str = "Class counts", bar_width: int = 30) -> Table:
    """One row per class with its count, share and a bar."""
    table = Table(title=title, title_justify="left")
    table.add_column("class", justify="right")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    table.add_column("", no_wrap=True)
    total = sum(counts.values()) or 1
    largest = max(counts.values(), default=0) or 1
    for label, count in counts.items():
        bar = "█" * max(1 if count else 0, round(bar_width * count / largest))
        table.add_row(str(label), f"{count:,}", f"{100 * count / total:.2f}%", f"[cyan]{bar}[/cyan]")
    return table


def source_summary(summary: dict) -> Group:
    """Tables describing the resolved data set: where from, the files, and the class balance."""
    title = {"embedded": "embedded copy (shipped in the package)",
             "download-dir": "data/mnist (where `mnist download` writes by default)"}.get(summary["source"], "data dir")  # fmt: skip
    head = Table(title=f"MNIST in use: {title}", title_justify="left", show_header=False)
    head.add_column("field", style="bold")
    head.add_column("value")
    head.add_row("source", summary["source"])
    head.add_row("folder", summary["root"])
    if summary.get("fallback_reason"):
        head.add_row("note", f"[yellow]data dir not used: {summary['fallback_reason']}[/yellow]")
    head.add_row("verified", "SHA-256 of the decompressed content matches" if summary.get("verified") else "no")
    files = Table(title="Files", title_justify="left")
    for column, justify in (("split", "left"), ("images", "right"), ("images file", "left"), ("labels file", "left")):
        files.add_column(column, justify=justify)
    balance = Table(title="Class balance", title_justify="left")
    balance.add_column("digit", justify="right")
    for split, facts in summary["splits"].items():
        files.add_row(split, f"{facts['images']:,}", facts["images_file"], facts["labels_file"])
        balance.add_column(f"{split} count", justify="right")
        balance.add_column(f"{split} %", justify="right")
    for digit in range(10):
        row = [str(digit)]
        for facts in summary["splits"].values():
            count = facts["class_counts"][str(digit)]
            row += [f"{count:,}", f"{100 * count / max(1, facts['images']):.2f}"]
        balance.add_row(*row)
    return Group(head, files, balance)


def download_table(outcomes: list[FileOutcome]) -> Table:
    """One row per file: what happened and where it came from."""
    table = Table(title="MNIST files", title_justify="left")
    table.add_column("file")
    table.add_column("status")
    table.add_column("from / why not")
    styles = {"failed": "red", "present": "dim"}
    for outcome in outcomes:
        style = styles.get(outcome.status, "green")
        detail = outcome.source or ""
        if outcome.status == "failed":
            detail = "\n".join(outcome.failures) or "no source"
        table.add_row(outcome.filename, f"[{style}]{outcome.status}[/{style}]", detail)
    return table


class RichDownloadListener(DownloadListener):
    """Shows a progress bar per file, with bytes, speed and ETA, and prints failed attempts above it."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, int] = {}

    @staticmethod
    def make_progress(console: Console) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}", justify="left"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )

    def attempt_started(self, resource: Resource, source: str, total: int | None) -> None:
        task = self.tasks.get(resource.key)
        if task is None:
            self.tasks[resource.key] = self.progress.add_task(resource.filename, total=total)
        else:
            self.progress.reset(task, total=total, completed=0)

    def advanced(self, resource: Resource, nbytes: int) -> None:
        self.progress.update(self.tasks[resource.key], advance=nbytes)

    def attempt_failed(self, resource: Resource, source: str, reason: str, will_retry: bool) -> None:
        then = "retrying" if will_retry else "next source"
        self.progress.console.print(f"[yellow]{resource.filename}: {source}: {reason} ({then})[/yellow]")

    def file_finished(self, resource: Resource, outcome: FileOutcome) -> None:
        task = self.tasks.get(resource.key)
        if task is not None and outcome.ok:
            total = self.progress.tasks[task].total
            self.progress.update(task, completed=total if total is not None else self.progress.tasks[task].completed)



def environment_table(facts: dict) -> Table:
    """`mnist env`: one row per fact, devices and packages one row each."""
    table = Table(title="Environment", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key in ("mnist_toolkit", "python", "python_executable", "platform", "torch", "torch_cuda_build", "cuda_available", "cudnn"):
        table.add_row(key, "-" if facts[key] is None else str(facts[key]))
    for device in facts["devices"]:
        details = ", ".join(f"{k} {v}" for k, v in device.items() if k not in ("type", "name"))
        table.add_row(f"device {device['type']}", f"{device['name']}" + (f" ({details})" if details else ""))
    threads = f"{facts['torch_threads']} intra-op, {facts['torch_interop_threads']} inter-op"
    if facts["thread_variables"]:
        threads += "; " + ", ".join(f"{k}={v}" for k, v in facts["thread_variables"].items())
    table.add_row("threads", threads)
    for name, version in facts["packages"].items():
        table.add_row(name, version or "not installed")
    data = facts["data"]
    table.add_row("data", f"{data['source']} ({data['root']})" + (f"; {data['fallback_reason']}" if data.get("fallback_reason") else ""))
    return table
