"""Rich rendering of evaluation reports and prediction rows."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..inference.evaluation import EvalReport
from .console import digits_panel


def per_class_table(report: EvalReport) -> Table:
    table = Table(title="Per class", title_justify="left")
    for name in ("digit", "precision %", "recall %", "F1 %", "support"):
        table.add_column(name, justify="right")
    for row in report.per_class:
        table.add_row(str(row["digit"]), f"{row['precision']:.2f}", f"{row['recall']:.2f}", f"{row['f1']:.2f}", f"{row['support']:,}")
    return table


def confusion_table(report: EvalReport) -> Table:
    """Rows = true digit, columns = predicted; the diagonal in green, mistakes highlighted in red."""
    table = Table(title="Confusion matrix (rows: true digit, columns: predicted)", title_justify="left")
    table.add_column("true", justify="right", style="bold")
    for digit in range(10):
        table.add_column(str(digit), justify="right")
    for true in range(10):
        cells = []
        for predicted in range(10):
            value = int(report.confusion[true, predicted])
            if true == predicted:
                cells.append(Text(f"{value:,}", style="green"))
            elif value:
                cells.append(Text(f"{value:,}", style="bold red" if value >= 5 else "red"))
            else:
                cells.append(Text("·", style="dim"))
        table.add_row(str(true), *cells)
    return table


def confused_pairs_table(report: EvalReport) -> Table:
    table = Table(title="Most confused", title_justify="left")
    for name in ("true", "predicted as", "images"):
        table.add_column(name, justify="right")
    for pair in report.confused_pairs:
        table.add_row(str(pair["true"]), str(pair["predicted"]), str(pair["count"]))
    return table


def calibration_line(calibration: dict) -> Text:
    """How far the confidence is from the accuracy (ECE), with the model's temperature or the lack of one."""
    if calibration["temperature"] is None:
        return Text.assemble(("Calibration ", "bold"), f"ECE {100 * calibration['ece_before']:.2f}%   NLL {calibration['nll_before']:.4f}   ",
                             ("uncalibrated: the model was trained without a validation split (--val-size 0)", "yellow"))  # fmt: skip
    return Text.assemble(
        ("Calibration ", "bold"), f"ECE {100 * calibration['ece_after']:.2f}% (softmax alone {100 * calibration['ece_before']:.2f}%)   ",
        f"NLL {calibration['nll_after']:.4f} ({calibration['nll_before']:.4f})   temperature {calibration['temperature']:.3f}, fitted on the {calibration['fitted_on']}",
    )  # fmt: skip


def evaluation_view(report: EvalReport, images, show: int) -> Group:
    """The whole report, with the first `show` misclassified digits drawn."""
    head = Text.assemble(
        ("Accuracy ", "bold"), (f"{report.accuracy:.2f}%", "bold green"),
        f"  ({report.count - len(report.misclassified):,} of {report.count:,} correct)   mean loss {report.loss:.4f}   "
        f"{report.images_per_second:,.0f} images/s",
    )  # fmt: skip
    parts = [head, *([calibration_line(report.calibration)] if report.calibration else []), per_class_table(report), confusion_table(report)]
    if report.confused_pairs:
        parts.append(confused_pairs_table(report))
    wrong = report.misclassified[:show]
    if wrong:
        captions = [f"#{m['index']} true {m['true']} → {m['predicted']} ({100 * m['confidence']:.0f}%)" for m in wrong]
        parts += [Text(f"First {len(wrong)} misclassified", style="bold"), digits_panel(images[[m["index"] for m in wrong]], captions)]
    return Group(*parts)


class PredictionsReport:
    """The predictions table, built batch by batch: it keeps the text of each row (and, with `show`,
    the drawn input), never the images or probabilities, so a folder of 100,000 files costs little.

    Single digits: file, digit, confidence, top-k. Numbers (`number`): file, number, confidence (the
    product of the digits'), digits (each digit with its confidence, and a note when touching digits
    were cut apart). A file that could not be read shows "-" there, and its error, less the file name
    it starts with, in a second table ("Could not read": file, error), where the message has the
    width of the terminal to itself.
    """

    def __init__(self, show: bool = False, number: bool = False) -> None:
        self.show = show
        self.table = Table(title="Predictions", title_justify="left")
        self.table.add_column("file", overflow="fold")
        self.table.add_column("number" if number else "digit", justify="right", style="bold")
        self.table.add_column("confidence", justify="right")
        self.table.add_column("digits" if number else "top-k")
        if show:
            self.table.add_column("model input (28x28)")
        self.failed: list[tuple[str, str]] = []

    def add(self, rows) -> None:
        """Add a batch of `PredictionRow`s."""
        from .console import digit_text

        show = self.show
        for row in rows:
            reading = row.number_reading() if row.parts is not None and not row.error else None
            if row.error or (row.parts is not None and reading is None):
                self.table.add_row(row.file, "-", "-", "", *([""] if show else []))
            elif reading is not None:
                drawn = Text("\n").join(digit_text(part.prepared.image) for part in row.parts) if show else None
                self.table.add_row(row.file, reading.number, f"{100 * reading.confidence:.1f}%", _digit_confidences(row), *([drawn] if show else []))
            else:
                top = "  ".join(f"{t['digit']}: {100 * t['p']:.1f}%" for t in row.top_k)
                drawn = digit_text(row.prepared.image) if show else None
                self.table.add_row(row.file, str(row.digit), f"{100 * row.confidence:.1f}%", top, *([drawn] if show else []))
            if row.error:
                self.failed.append((row.file, _error_text(row)))

    def render(self):
        """The table, followed by the "Could not read" table when a file failed."""
        if not self.failed:
            return self.table
        errors = Table(title="Could not read", title_justify="left")
        errors.add_column("file", overflow="fold")
        errors.add_column("error", style="red")
        for file, error in self.failed:
            errors.add_row(file, error)
        return Group(self.table, errors)


def predictions_table(rows, show: bool = False, number: bool | None = None):
    """One row per input, with `show` the 28x28 input beside it; then the inputs that failed and why
    (see `PredictionsReport`; `number` None: a number table when any row holds one)."""
    report = PredictionsReport(show, any(row.parts is not None for row in rows) if number is None else number)
    report.add(rows)
    return report.render()


def _error_text(row) -> str:
    """The row's error without the file name it starts with (the file column shows it)."""
    error = row.error or ""
    return error[len(row.file) + 2 :] if error.startswith(f"{row.file}: ") else error


def _digit_confidences(row) -> Text:
    """Each digit of a number row with its confidence; a note when touching digits were cut apart."""
    text = Text("  ".join(f"{part.digit}: {100 * part.confidence:.1f}%" for part in row.parts))
    cut = sum(1 for part in row.parts if part.prepared is not None and part.prepared.cut_from > 1)
    if cut:
        text.append(f"\n{cut} digits cut apart where their ink touched: check them", style="yellow")
    return text
