"""`mnist inspect`: describe an IDX file, or the data set in use (named so as not to shadow `inspect`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..data.resources import DEFAULT_DATA_DIR, resource_by_filename, resource_named
from ..errors import ConfigError, DatasetNotFound
from . import app
from .options import DataDirOption, JsonOption, VerboseOption, _emit_json, _resolve_data


def _file_to_read(file: Path, data_dir: Optional[Path], console, verbose: bool, json_output: bool) -> Path:
    """FILE itself when it exists; a bare MNIST name (`train-images`, `t10k-labels-idx1-ubyte.gz`) stands
    for that file of the data set in use; a missing MNIST file is told how to get it."""
    if file.exists():
        return file
    resource = resource_named(str(file))
    if resource is not None:
        from ..data.source import SOURCE_KINDS

        source = _resolve_data(data_dir, console, verbose)
        path = source.files[resource.key]
        if not json_output:
            console.print(f"{file}: {path}, {SOURCE_KINDS[source.kind]}", markup=False)
        return path
    missing = resource_by_filename(file.name)
    if missing is not None:
        raise DatasetNotFound(
            f"{file}: no such file",
            hint=f"`mnist inspect {missing.key}` reads it from the data set in use; `mnist download` writes the four files to {DEFAULT_DATA_DIR}",
        )
    return file


@app.command()
def inspect(
    file: Annotated[
        Optional[Path],
        typer.Argument(
            help="Any IDX file (raw or gzip), or train-images, train-labels, test-images, test-labels for that "
            "file of the data set in use; without it, the data set in use.",
            show_default=False,
        ),
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="Draw the first N images in the terminal.")] = 8,
    save: Annotated[Optional[Path], typer.Option(help="Write a PNG grid of the first --grid images here.")] = None,
    grid: Annotated[int, typer.Option(min=1, help="Images in the --save grid.")] = 100,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Describe an IDX file (header, sizes, checksum, statistics, digits), or the data set in use."""
    from ..data.inspection import inspect_file, summarize_source
    from ..reporting.console import class_counts_table, digits_panel, idx_facts_table, make_console, source_summary

    console = make_console(json_output)
    if file is None:
        if save is not None:
            raise ConfigError("--save needs a FILE of images", hint="e.g. `mnist inspect train-images --save grid.png`")
        summary = summarize_source(_resolve_data(data_dir, console, verbose))
        if json_output:
            _emit_json(summary)
        else:
            console.print(source_summary(summary))
        return
    file = _file_to_read(file, data_dir, console, verbose, json_output)
    report = inspect_file(file)
    facts = report.facts
    if save is not None:
        if report.images is None:
            raise ConfigError(f"{file} holds no images (shape {facts['dims']})", hint="--save needs an images file")
        from ..imaging import save_grid

        facts["saved_grid"] = str(save_grid(report.images[:grid], save))
    if json_output:
        _emit_json(facts)
        return
    console.print(idx_facts_table(facts))
    if "class_counts" in facts:
        console.print(class_counts_table(facts["class_counts"]))
    if report.images is not None and show and len(report.images):
        count = min(show, len(report.images))
        if report.labels is not None:
            captions = [f"#{i} label {int(report.labels[i])}" for i in range(count)]
        else:
            captions = [f"#{i}" for i in range(count)]
        console.print(digits_panel(report.images[:count], captions))
    if "saved_grid" in facts:
        console.print(f"Saved a grid of {min(grid, len(report.images))} images to {facts['saved_grid']}")
