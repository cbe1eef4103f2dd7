"""Rich rendering of the experiment grid's results."""

from __future__ import annotations

from rich.table import Table


def results_table(rows: list[dict]) -> Table:
    table = Table(title="Experiments", title_justify="left")
    for name, justify in (("experiment", "left"), ("change", "left"), ("parameters", "right"), ("s/epoch", "right"),
                          ("total s", "right"), ("final train loss", "right"), ("test acc %", "right"), ("vs baseline", "right")):  # fmt: skip
        table.add_column(name, justify=justify)
    for r in rows:
        delta = "" if r["vs_baseline"] is None or r["name"] == "baseline" else f"{r['vs_baseline']:+.2f}"
        style = "green" if delta.startswith("+") and delta != "+0.00" else "red" if delta.startswith("-") else ""
        table.add_row(r["name"], r["change"], f"{r['params']:,}", f"{r['seconds_per_epoch']:.1f}", f"{r['total_seconds']:.0f}",
                      f"{r['final_train_loss']:.4f}", f"{r['test_accuracy']:.2f}", f"[{style}]{delta}[/{style}]" if style else delta)  # fmt: skip
    return table
