"""The `mnist` command: parse options, call the core, render results; the one error boundary.

Only Typer, the standard library and the light core modules are imported at start-up, so
`mnist --help` stays fast; torch and the heavier core modules are imported inside the commands.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import MnistError

from typer._click.exceptions import ClickException, NoArgsIsHelpError  # Typer vendors Click
from typer.exceptions import Abort

DEBUG_ENV = "MNIST_DEBUG"
_state = {"debug": os.environ.get(DEBUG_ENV, "") not in ("", "0", "false")}


def _error_line(message: str, hint: str = "") -> None:
    text = f"Error: {message.rstrip('.')}."
    if hint:
        text += f" Hint: {hint}."
    print(" ".join(text.split()), file=sys.stderr)


class MnistGroup(TyperGroup):
    """A Typer group that turns every failure into one `Error: ...` line and an exit status."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra: Any):  # noqa: D102
        code = self._run(args, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args, prog_name, complete_var, **extra: Any) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except MnistError as exc:
            self._maybe_traceback()
            _error_line(exc.message, exc.hint)
            return 1
        except NoArgsIsHelpError as exc:
            print(exc.format_message() if hasattr(exc, "format_message") else exc, file=sys.stderr)
            return 2
        except ClickException as exc:  # usage errors: unknown option, bad value, missing argument
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else (prog_name or "mnist")
            _error_line(exc.format_message(), f"see `{command} --help`")
            return exc.exit_code
        except (Abort, KeyboardInterrupt):
            _error_line("interrupted")
            return 130
        except BrokenPipeError:
            return 1
        except OSError as exc:
            self._maybe_traceback()
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _error_line(f"{where}{exc.strerror or exc}", "check the path, its permissions and the free disk space")
            return 1
        except Exception as exc:  # a bug: say so in one line; --debug shows the traceback
            self._maybe_traceback()
            _error_line(f"unexpected {type(exc).__name__}: {exc}", f"rerun with --debug (or {DEBUG_ENV}=1) and report it")
            return 1
        return result if isinstance(result, int) else 0

    @staticmethod
    def _maybe_traceback() -> None:
        if _state["debug"]:
            traceback.print_exc()


app = typer.Typer(
    cls=MnistGroup,
    name="mnist",
    help="Get, inspect, train on, evaluate and predict with the MNIST handwritten digits.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"mnist-toolkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help=f"Show tracebacks of failures (or set {DEBUG_ENV}=1).")] = False,
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """Get, inspect, train on, evaluate and predict with the MNIST handwritten digits."""
    if debug:
        _state["debug"] = True


def _emit_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


DataDirOption = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir",
        envvar="MNIST_DATA_DIR",
        help="Folder with the four MNIST files (raw or .gz); the embedded copy is used when it is not valid.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Say which data is used and more.")]


def _resolve_data(data_dir: Optional[Path], console, verbose: bool):
    """Resolve the data set; warn when a given folder was passed over."""
    from .data import resolve_source

    source = resolve_source(data_dir)
    if source.fallback_reason:
        console.print(f"[yellow]Warning: data dir not used ({source.fallback_reason}); using the embedded copy.[/yellow]")
    if verbose:
        console.print(f"Data: {source.kind} copy in {source.root}")
    return source


@app.command()
def download(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Folder to put the four files in.", show_default="data/mnist")
    ] = Path("data/mnist"),
    mirror: Annotated[
        Optional[list[str]],
        typer.Option("--mirror", help="Base URL of a mirror; repeat for several, tried in order (replaces the defaults)."),
    ] = None,
    from_path: Annotated[
        Optional[Path],
        typer.Option("--from", help="Import from a local folder or a .zip / .tar.gz archive (e.g. Kaggle's) instead."),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Copy the embedded data; no network.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Fetch files again even if present and valid.")] = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for a connection or for data.")] = 30.0,
    retries: Annotated[int, typer.Option(min=1, max=10, help="Attempts per mirror on transient faults.")] = 3,
    json_output: JsonOption = False,
) -> None:
    """Fetch the four MNIST files from mirrors, a local folder or archive, or the embedded copy.

    Every file is checked by the SHA-256 of its decompressed content and written under its final name
    only once complete and valid. Files already present and valid are skipped.
    """
    from .download import DownloadOptions, copy_embedded, import_from
    from .download import download as fetch
    from .errors import ConfigError
    from .reporting.console import RichDownloadListener, download_table, make_console

    if sum([offline, from_path is not None, bool(mirror)]) > 1:
        raise ConfigError("--offline, --from and --mirror exclude each other", hint="choose one source")
    console = make_console(json_output)
    progress = RichDownloadListener.make_progress(make_console(True))
    listener = RichDownloadListener(progress)
    with progress:
        if offline:
            outcomes = copy_embedded(data_dir, force=force, listener=listener)
        elif from_path is not None:
            outcomes = import_from(from_path, data_dir, force=force, listener=listener)
        else:
            options = DownloadOptions(data_dir, tuple(mirror) if mirror else DownloadOptions.mirrors, force, timeout, retries)
            outcomes = fetch(options, listener=listener)
    failed = [o for o in outcomes if not o.ok]
    if json_output:
        _emit_json({"data_dir": str(data_dir), "ok": not failed, "files": [vars(o) for o in outcomes]})
    else:
        console.print(download_table(outcomes))
    if failed:
        names = ", ".join(o.filename for o in failed)
        hint = "run `mnist download --offline` to copy the embedded data instead"
        if not (offline or from_path or json_output) and sys.stdin.isatty():
            if typer.confirm("Every source failed for some files. Copy the embedded MNIST instead?", default=True):
                outcomes = copy_embedded(data_dir, force=False)
                if all(o.ok for o in outcomes):
                    console.print(download_table(outcomes))
                    return
        raise MnistError(f"could not obtain a valid {names}", hint=hint if not offline else "reinstall the package")


@app.command()
def inspect(
    file: Annotated[Optional[Path], typer.Argument(help="Any IDX file (raw or gzip); without it, the data set in use.")] = None,
    show: Annotated[int, typer.Option(min=0, help="Draw the first N images in the terminal.")] = 8,
    save: Annotated[Optional[Path], typer.Option(help="Write a PNG grid of the first --grid images here.")] = None,
    grid: Annotated[int, typer.Option(min=1, help="Images in the --save grid.")] = 100,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Describe an IDX file (header, sizes, checksum, statistics, digits), or the data set in use."""
    from .errors import ConfigError
    from .inspection import inspect_file, summarize_source
    from .reporting.console import class_counts_table, digits_panel, idx_facts_table, make_console, source_summary

    console = make_console(json_output)
    if file is None:
        if save is not None:
            raise ConfigError("--save needs a FILE of images", hint="e.g. `mnist inspect train-images-idx3-ubyte.gz --save grid.png`")
        summary = summarize_source(_resolve_data(data_dir, console, verbose))
        if json_output:
            _emit_json(summary)
        else:
            console.print(source_summary(summary))
        return
    report = inspect_file(file)
    facts = report.facts
    if save is not None:
        if report.images is None:
            raise ConfigError(f"{file} holds no images (shape {facts['dims']})", hint="--save needs an images file")
        from .imaging import save_grid

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


def main() -> None:
    """Console-script entry point."""
    app()
