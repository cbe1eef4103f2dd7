"""The `mnist` command: parse options, call the core, render results; the one error boundary.

Only Typer, the standard library and the light core modules are imported at start-up, so
`mnist --help` stays fast; torch and the heavier core modules are imported inside the commands.
"""

from __future__ import annotations

import functools
import inspect as pyinspect  # `inspect` is also a command below
import json
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import ConfigError, MnistError

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


def _warn_fallback(console, reason: Optional[str]) -> None:
    """Say that a given data folder was passed over, and why."""
    if reason:
        console.print(f"[yellow]Warning: data dir not used ({reason}); using the embedded copy.[/yellow]")


def _resolve_data(data_dir: Optional[Path], console, verbose: bool):
    """Resolve the data set; warn when a given folder was passed over."""
    from .data import resolve_source

    source = resolve_source(data_dir)
    _warn_fallback(console, source.fallback_reason)
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


def _int_list(value: Optional[str], option: str) -> Optional[list[int]]:
    if value is None:
        return None
    try:
        return [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers such as 32,64, found {value!r}", param_hint=option) from None


def _float_pair(value: Optional[str], option: str) -> Optional[list[float]]:
    if value is None:
        return None
    try:
        parts = [float(part) for part in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 2:
        raise typer.BadParameter(f"expected two numbers such as 0.9,0.999, found {value!r}", param_hint=option)
    return parts


_MODEL = "Model"
_OPTIM = "Optimizer"
_DATA = "Data"
_RUN = "Run"


@app.command()
def train(
    arch: Annotated[Optional[str], typer.Option(help="Architecture: cnn, lenet5, alexnet, vgg16, googlenet, resnet (`mnist models`).", rich_help_panel=_MODEL, show_default="cnn")] = None,
    conv_layers: Annotated[Optional[int], typer.Option(min=0, help="cnn: convolutional layers.", rich_help_panel=_MODEL, show_default="1")] = None,
    filters: Annotated[Optional[str], typer.Option(help="cnn: filters per conv layer, one for all or one per layer (32,64).", rich_help_panel=_MODEL, show_default="32")] = None,
    kernel_size: Annotated[Optional[int], typer.Option(min=1, help="cnn: kernel size.", rich_help_panel=_MODEL, show_default="3")] = None,
    stride: Annotated[Optional[int], typer.Option(min=1, help="cnn: convolution stride.", rich_help_panel=_MODEL, show_default="1")] = None,
    padding: Annotated[Optional[str], typer.Option(help="cnn: valid | same | full.", rich_help_panel=_MODEL, show_default="same")] = None,
    pool: Annotated[Optional[str], typer.Option(help="cnn: max | avg | none (2x2 after each conv).", rich_help_panel=_MODEL, show_default="max")] = None,
    fc_layers: Annotated[Optional[int], typer.Option(min=1, help="cnn: fully connected layers, output layer included.", rich_help_panel=_MODEL, show_default="1")] = None,
    hidden: Annotated[Optional[str], typer.Option(help="cnn: units of the hidden FC layers (128 or 256,128).", rich_help_panel=_MODEL, show_default="128")] = None,
    activation: Annotated[Optional[str], typer.Option(help="cnn: relu | tanh | sigmoid | gelu | leaky_relu.", rich_help_panel=_MODEL, show_default="relu")] = None,
    dropout: Annotated[Optional[float], typer.Option(min=0.0, max=0.99, help="cnn: dropout before each FC layer.", rich_help_panel=_MODEL, show_default="0")] = None,
    batch_norm: Annotated[Optional[bool], typer.Option("--batch-norm/--no-batch-norm", help="cnn: batch norm after each conv.", rich_help_panel=_MODEL, show_default="off")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adam | adamw | sgd | nesterov | rmsprop | adadelta.", rich_help_panel=_OPTIM, show_default="adam")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate; default: the optimizer's own (adam 1e-3, nesterov 0.02).", rich_help_panel=_OPTIM, show_default=False)] = None,
    momentum: Annotated[Optional[float], typer.Option(help="Momentum (sgd, nesterov, rmsprop).", rich_help_panel=_OPTIM, show_default=False)] = None,
    weight_decay: Annotated[Optional[float], typer.Option(min=0.0, help="Weight decay.", rich_help_panel=_OPTIM, show_default="0")] = None,
    betas: Annotated[Optional[str], typer.Option(help="Adam betas, e.g. 0.9,0.999.", rich_help_panel=_OPTIM, show_default="0.9,0.999")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="none | step | cosine | onecycle.", rich_help_panel=_OPTIM, show_default="none")] = None,
    label_smoothing: Annotated[Optional[float], typer.Option(help="Label smoothing of the training loss.", rich_help_panel=_OPTIM, show_default="0")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs.", rich_help_panel=_OPTIM, show_default="10")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size.", rich_help_panel=_OPTIM, show_default="64")] = None,
    data_dir: DataDirOption = None,
    val_size: Annotated[Optional[int], typer.Option(help="Hold out N training images (seeded) for best.pt and early stopping.", rich_help_panel=_DATA, show_default="0")] = None,
    patience: Annotated[Optional[int], typer.Option(min=1, help="Stop after N epochs without a better validation accuracy.", rich_help_panel=_DATA, show_default=False)] = None,
    train_limit: Annotated[Optional[int], typer.Option(help="Train on the first N training images.", rich_help_panel=_DATA, show_default=False)] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after N optimizer steps.", rich_help_panel=_DATA, show_default=False)] = None,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment", help="Random rotation, shift and scale, batched on the device.", rich_help_panel=_DATA, show_default="off")] = None,
    preset: Annotated[Optional[str], typer.Option(help="baseline | fast | best: a starting point that options override.", rich_help_panel=_RUN, show_default="baseline")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="TOML file with any option; command-line options win.", rich_help_panel=_RUN, show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue a run: its folder or a checkpoint (only --epochs, --max-steps, --patience, --threads, --device may change).", rich_help_panel=_RUN, show_default=False)] = None,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Start a new run from the weights of a run (its reported checkpoint) or a checkpoint; any other options.", rich_help_panel=_RUN, show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of weights, batch order and validation split.", rich_help_panel=_RUN, show_default="0")] = None,
    deterministic: Annotated[Optional[bool], typer.Option("--deterministic/--no-deterministic", help="Deterministic algorithms only.", rich_help_panel=_RUN, show_default="off")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto | cpu | cuda | mps.", rich_help_panel=_RUN, show_default="auto")] = None,
    amp: Annotated[Optional[bool], typer.Option("--amp/--no-amp", help="Mixed precision (CUDA).", rich_help_panel=_RUN, show_default="off")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch.", rich_help_panel=_RUN, show_default=False)] = None,
    runs_dir: Annotated[Optional[Path], typer.Option(help="Folder of the run folders.", rich_help_panel=_RUN, show_default="runs")] = None,
    name: Annotated[Optional[str], typer.Option(help="Appended to the run folder's name.", rich_help_panel=_RUN, show_default=False)] = None,
    nproc: Annotated[Optional[int], typer.Option(help="Data-parallel over N local processes (torchrun, DDP); --batch-size stays the global batch.", rich_help_panel=_RUN, show_default=False)] = None,
    log_every: Annotated[int, typer.Option(min=0, help="Outside a terminal: a progress line every N steps (0: epoch lines only).", rich_help_panel=_RUN)] = 100,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress: only the result.", rich_help_panel=_RUN)] = False,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train a network on MNIST, scoring the test set after every epoch; logs to TensorBoard under runs/."""
    if nproc is not None and "WORLD_SIZE" not in os.environ:
        from .distributed import launch

        raise typer.Exit(launch(nproc, _argv_without_nproc(sys.argv[1:])))
    options = _train_options({name: value for name, value in locals().items() if name in _TRAIN_OPTION_NAMES})
    from .config import build_train_config
    from .distributed import from_environment, init_group, shutdown
    from .reporting.console import make_console

    dist = from_environment()
    console = make_console(json_output) if dist.is_main else make_console(True, quiet=True)
    if resume is not None and init_from is not None:
        raise ConfigError("--resume and --init-from exclude each other", hint="--resume continues a run; --init-from starts a new one from its weights")
    config = None if resume is not None else build_train_config(options, config_file)
    if init_from is not None:
        from .config import load_toml
        from .resume import init_from_config
        from .runs import checkpoint_of

        config = init_from_config(config, options, load_toml(config_file) if config_file else {}, checkpoint_of(init_from))
    if dist.enabled:
        from .engine import resolve_device

        init_group(dist, resolve_device((config.device if config else options.get("device")) or "auto").type)
    try:
        reporting = "none" if json_output or quiet else ("live" if console.is_terminal else "lines")
        _train_in_process(config, resume, options, dist, console, TrainReporting(reporting, log_every, json_output, verbose), config_file)
    finally:
        shutdown()


def _argv_without_nproc(argv: list[str]) -> list[str]:
    """The command line minus `--nproc N` / `--nproc=N`, for the processes torchrun starts."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


@dataclass(frozen=True)
class TrainReporting:
    """How `mnist train` reports: `live` (terminal), `lines` (pipe, file, CI) or `none` (--quiet, --json)."""

    progress: str
    log_every: int
    json_output: bool
    verbose: bool


def _train_in_process(config, resume, options, dist, console, reporting: TrainReporting, config_file=None) -> None:
    """One process's share of `mnist train` (the only one, or one rank of a torchrun group)."""
    from .engine import TrainingInterrupted, stop_on_signals
    from .reporting.tensorboard import TensorBoardCallback
    from .reporting.training import ConsoleCallback, LineCallback
    from .training import prepare_run, run_summary

    prepared = prepare_run(config, resume, options, dist=dist, config_file=config_file)
    trainer = prepared.trainer
    _warn_fallback(console, prepared.data_source.get("fallback_reason"))
    if reporting.verbose or resume is not None:
        what = f"Resuming {prepared.resumed_from} at epoch {trainer.epoch + 1}, step {trainer.global_step}" if resume else "Run"
        console.print(f"{what}: {prepared.run_dir}  ({trainer.params:,} parameters, {trainer.device}, data: {prepared.data_source['source']})")
    if trainer.config.init_from and (reporting.verbose or not reporting.json_output):
        console.print(f"Starting from the weights of {trainer.config.init_from}")
    if prepared.schedule_change is not None:
        console.print(f"[yellow]Note:[/yellow] {prepared.schedule_change.describe()}")
    if trainer.epoch >= trainer.config.epochs:
        raise MnistError(f"{prepared.run_dir} already finished its {trainer.config.epochs} epochs", hint="pass --epochs N with a larger N to train further")
    with stop_on_signals() as stop_event:
        trainer.stop_event = stop_event
        if dist.is_main:  # rank 0 alone prints and logs
            progress = {
                "live": lambda: [ConsoleCallback(console, f"Training {prepared.run_dir.name}")],
                "lines": lambda: [LineCallback(sys.stdout, reporting.log_every)],
                "none": lambda: [],
            }[reporting.progress]()
            trainer.callbacks = [*progress, TensorBoardCallback(prepared.run_dir, trainer.data, trainer.config.to_dict(),
                                                                purge_step=trainer.global_step or None)]  # fmt: skip
        try:
            result = trainer.fit()
        except TrainingInterrupted as exc:
            console.print(f"[yellow]Interrupted: checkpoint saved to {exc.checkpoint}[/yellow]")
            console.print(f"Resume with: mnist train --resume {prepared.run_dir}")
            raise typer.Exit(130) from None
    if not dist.is_main:
        return
    summary = run_summary(prepared, result)
    if reporting.json_output:
        _emit_json(summary)
        return
    if reporting.progress == "lines":
        from .reporting.training import history_table

        console.print(history_table(result.history, f"Training {prepared.run_dir.name}"))
    console.print(result_lines(summary))
    console.print(f"Run folder: {prepared.run_dir}")
    console.print(f"TensorBoard: tensorboard --logdir {Path(trainer.config.runs_dir)}")


def result_lines(summary: dict) -> str:
    """Which checkpoint the reported test accuracy belongs to, and the other one's beside it."""
    speed = f"({summary['train_seconds']:.1f} s training, {summary['images_per_second']:,.0f} images/s)"
    last, best = summary["last"], summary["best"]
    if summary["reported"] == "best":
        return (f"Test accuracy {best['test_accuracy']:.2f}%  loss {best['test_loss']:.4f}  of {best['checkpoint']} "
                f"(epoch {best['epoch']}, best validation accuracy {best['val_accuracy']:.2f}%)\n"
                f"Last epoch ({last['epoch']}): test accuracy {last['test_accuracy']:.2f}%  of {last['checkpoint']}  {speed}")  # fmt: skip
    return f"Test accuracy {last['test_accuracy']:.2f}%  loss {last['test_loss']:.4f}  of {last['checkpoint']} (last epoch)  {speed}"


#: `mnist train` parameters that are training options (shared by compare and experiments).
_NOT_TRAIN_OPTIONS = {"json_output", "verbose", "resume", "config_file", "nproc", "init_from", "log_every", "quiet"}
_TRAIN_OPTION_NAMES = set(pyinspect.signature(train).parameters) - _NOT_TRAIN_OPTIONS


def _train_options(values: dict) -> dict:
    """Raw `mnist train` option values -> TrainConfig options (lists parsed, paths as strings)."""
    options = dict(values)
    options["filters"] = _int_list(values.get("filters"), "--filters")
    options["hidden"] = _int_list(values.get("hidden"), "--hidden")
    options["betas"] = _float_pair(values.get("betas"), "--betas")
    for key in ("data_dir", "runs_dir"):
        if options.get(key) is not None:
            options[key] = str(options[key])
    return options


def with_train_options(exclude: tuple[str, ...] = ()):
    """Give a command every `mnist train` option (minus `exclude`); they arrive parsed as `train_options`."""

    def decorate(func):
        own = pyinspect.signature(func, eval_str=True)  # Typer reads a __signature__ as it is: resolve the strings
        shared = [p for name, p in pyinspect.signature(train, eval_str=True).parameters.items()
                  if name in _TRAIN_OPTION_NAMES and name not in exclude and name not in own.parameters]  # fmt: skip
        names = {p.name for p in shared}

        @functools.wraps(func)
        def command(**kwargs):
            values = {name: kwargs.pop(name) for name in list(kwargs) if name in names}
            return func(**kwargs, train_options=_train_options(values))

        command.__signature__ = own.replace(parameters=[p for p in own.parameters.values() if p.name != "train_options"] + shared)
        command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}
        return command

    return decorate


@app.command()
def models(json_output: JsonOption = False) -> None:
    """List the architectures: name, parameters and description."""
    from .models import count_parameters, create_model, list_models
    from .reporting.console import make_console

    rows = [{"name": i.name, "parameters": count_parameters(create_model(i.name)), "description": i.description} for i in list_models()]
    if json_output:
        _emit_json(rows)
        return
    from rich.table import Table

    table = Table(title="Architectures (--arch)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("parameters", justify="right")
    table.add_column("description")
    for row in rows:
        table.add_row(row["name"], f"{row['parameters']:,}", row["description"])
    make_console().print(table)


@app.command()
def env(data_dir: DataDirOption = None, json_output: JsonOption = False) -> None:
    """Versions, devices, threads and the data copy in use: what a bug report needs."""
    from .env_report import collect
    from .reporting.console import environment_table, make_console

    facts = collect(str(data_dir) if data_dir else None)
    if json_output:
        _emit_json(facts)
        return
    make_console().print(environment_table(facts))


def _load_model_for(run: Optional[Path], checkpoint: Optional[Path], runs_dir: Path):
    """The checkpoint chosen by --checkpoint, --run, or the newest run; returns (path, payload, model)."""
    from .checkpoint import load_checkpoint, rebuild_model
    from .errors import ConfigError
    from .runs import checkpoint_of, newest_run

    if run is not None and checkpoint is not None:
        raise ConfigError("--run and --checkpoint exclude each other", hint="pass one of them")
    if checkpoint is not None:
        path = checkpoint
    else:
        path = checkpoint_of(run if run is not None else newest_run(runs_dir), prefer_best=True)
    payload = load_checkpoint(path)
    return path, payload, rebuild_model(payload)


RunOption = Annotated[Optional[Path], typer.Option("--run", help="A run folder (its best.pt, else last.pt); default: the newest run.", show_default=False)]
CheckpointOption = Annotated[Optional[Path], typer.Option("--checkpoint", help="A checkpoint file.", show_default=False)]
RunsDirOption = Annotated[Path, typer.Option("--runs-dir", help="Where to look for the newest run.")]


@app.command()
def evaluate(
    run: RunOption = None,
    checkpoint: CheckpointOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    images: Annotated[Optional[Path], typer.Option(help="An images IDX file to score instead of the MNIST test set.", show_default=False)] = None,
    labels: Annotated[Optional[Path], typer.Option(help="Its labels IDX file.", show_default=False)] = None,
    show: Annotated[int, typer.Option(min=0, help="Draw the first N misclassified digits.")] = 12,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per forward pass.")] = 256,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score a trained model: accuracy, loss, per-class metrics, confusion matrix, mistakes; saved under the run."""
    from .data import load_pair, load_split
    from .errors import ConfigError
    from .evaluation import build_report, evaluate_model
    from .reporting.console import make_console
    from .reporting.evaluation import evaluation_view

    console = make_console(json_output)
    if (images is None) != (labels is None):
        raise ConfigError("--images and --labels go together", hint="pass both, or neither for the MNIST test set")
    path, payload, model = _load_model_for(run, checkpoint, runs_dir)
    if images is not None:
        digits = load_pair(images, labels)
        data = {"source": "files", "images": str(images), "labels": str(labels)}
    else:
        source = _resolve_data(data_dir, console, verbose)
        digits = load_split(source, "test")
        data = {**source.describe(), "split": "test"}
    norm = payload["normalization"]
    scored = evaluate_model(model, digits.images, digits.labels, batch_size, norm["mean"], norm["std"])
    report = build_report(str(path), data, digits.labels, scored)
    saved = _save_evaluation(report, digits.images, path, payload)
    if json_output:
        _emit_json({**report.to_json(), "saved": saved})
        return
    console.print(evaluation_view(report, digits.images, show))
    console.print(f"Saved {', '.join(saved.values())}" if saved else "")


def _save_evaluation(report, images, checkpoint_path: Path, payload: dict) -> dict:
    """eval/ PNGs and metrics.json beside the checkpoint's run, and the same into its TensorBoard logs."""
    from .evaluation import confusion_png
    from .imaging import grid_image, save_png
    from .runs import write_json

    run_dir = checkpoint_path.parent.parent if checkpoint_path.parent.name == "checkpoints" else checkpoint_path.parent
    out = run_dir / "eval"
    saved = {}
    confusion_png(report.confusion, out / "confusion.png", f"{payload['arch']}: {report.accuracy:.2f}% on {report.count:,} images")
    saved["confusion"] = str(out / "confusion.png")
    wrong = [m["index"] for m in report.misclassified[:100]]
    grid = None
    if wrong:
        grid = grid_image(images[wrong], columns=10, scale=2)
        saved["misclassified"] = str(save_png(grid, out / "misclassified.png"))
    saved["metrics"] = str(write_json(out / "metrics.json", report.to_json()))
    from .reporting.tensorboard import log_evaluation

    log_evaluation(run_dir, report, grid, step=int(payload.get("global_step", 0)))
    return saved


@app.command()
def predict(
    paths: Annotated[list[str], typer.Argument(help="Image files, folders (searched recursively), glob patterns, or - for stdin.", show_default=False)],
    run: RunOption = None,
    checkpoint: CheckpointOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=10, help="How many likely digits to list.")] = 3,
    show: Annotated[bool, typer.Option("--show", help="Draw the 28x28 input the model saw next to each answer.")] = False,
    save_preprocessed: Annotated[Optional[Path], typer.Option(help="Write each 28x28 model input as PNG into this folder.", show_default=False)] = None,
    number: Annotated[bool, typer.Option("--number", help="Read every digit of each image, left to right (a written number).")] = False,
    json_output: JsonOption = False,
) -> None:
    """Read digits from your own images (PNG, JPEG, BMP, GIF, TIFF, WebP), preprocessed as MNIST was."""
    from .imaging import save_png
    from .predict import digit_rows, predict_rows, prepare_inputs
    from .reporting.console import make_console
    from .reporting.evaluation import predictions_table

    console = make_console(json_output)
    path, payload, model = _load_model_for(run, checkpoint, runs_dir)
    rows = prepare_inputs(paths, number=number)
    norm = payload["normalization"]
    predict_rows(model, rows, top_k, norm["mean"], norm["std"])
    several = [row.file for row in rows if row.prepared is not None and row.prepared.digits_seen > 1]
    if several:
        print(f"Warning: {', '.join(several)}: several separated digits seen; read as one digit. Hint: pass --number to read them all.", file=sys.stderr)
    if save_preprocessed is not None:
        from PIL import Image

        used: set[str] = set()
        for row in digit_rows(rows):
            if row.prepared is not None:
                stem = Path(row.file).stem or "stdin"
                name = stem
                for n in range(2, 10_000):
                    if name not in used:
                        break
                    name = f"{stem}-{n}"
                used.add(name)
                save_png(Image.fromarray(row.prepared.image, mode="L"), save_preprocessed / f"{name}.png")
    if json_output:
        _emit_json([row.to_json() for row in rows])
    else:
        console.print(predictions_table(rows, show=show))
        if len(rows) > 1:
            console.print(f"Checkpoint: {path}")
    failed = [row for row in rows if row.error]
    if failed:
        where = "their error fields" if json_output else "the table"
        print(f"Error: {len(failed)} of {len(rows)} input(s) could not be read; see {where}. "
              "Hint: use images of a single digit in a common format.", file=sys.stderr)  # fmt: skip
        raise typer.Exit(1)


@app.command()
@with_train_options(exclude=("optimizer", "name", "preset"))
def compare(
    optimizers: Annotated[str, typer.Option(help="Comma-separated optimizers: adam, nesterov, sgd, rmsprop, adadelta, adamw.")] = "adam,nesterov",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds; each gives every optimizer the same initial weights and batch order.")] = "0",
    lr_sweep: Annotated[bool, typer.Option("--lr-sweep", help="Try a small grid of learning rates per optimizer first; keep the best on the validation split.")] = False,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="TOML file with any train option; command-line options win.", show_default=False)] = None,
    json_output: JsonOption = False,
    train_options: dict = None,
) -> None:
    """Compare optimizers fairly (default Adam vs Nesterov SGD): same network, initial weights and data order per seed.

    Every `mnist train` option applies to all runs. Each run lands in runs/compare_<timestamp>/<optimizer>_seed<k>/.
    """
    from .compare import comparison_document, comparison_png, parse_list, run_comparison, save_document
    from .config import build_train_config
    from .engine import TrainingInterrupted, stop_on_signals
    from .reporting.compare import CompareView, summary_table
    from .reporting.console import make_console
    from .reporting.tensorboard import TensorBoardCallback
    from .runs import create_run_dir

    console = make_console(json_output)
    names = parse_list(optimizers, str, "--optimizers")
    seed_list = parse_list(seeds, int, "--seeds")
    base = build_train_config(train_options, config_file)
    folder = create_run_dir(base.runs_dir, "compare", label_first=True)
    console.print(f"Comparing {', '.join(names)} over seed(s) {', '.join(map(str, seed_list))} in {folder}")
    with stop_on_signals() as stop_event, CompareView(console, "Side by side (train loss, test accuracy)") as view:
        def make_callbacks(name, trainer):
            trainer.stop_event = stop_event
            return [view.callback(name, trainer), TensorBoardCallback(trainer.run_dir, trainer.data, trainer.config.to_dict())]

        try:
            outcomes, sweep = run_comparison(base, names, seed_list, folder, make_callbacks, lr_sweep)
        except TrainingInterrupted as exc:
            raise MnistError(f"comparison interrupted; the current run's checkpoint is {exc.checkpoint}",
                             hint="start the comparison again; finished runs stay in its folder") from None  # fmt: skip
        final_table = view.side_by_side()
    document = comparison_document(outcomes, sweep)
    document["folder"] = str(folder)
    document["plot"] = str(comparison_png(outcomes, folder / "comparison.png"))
    save_document(folder, document)
    if json_output:
        _emit_json(document)
        return
    console.print(final_table)
    console.print(summary_table(document["summary"]))
    console.print(document["verdict"])
    console.print(f"Folder: {folder}\nPlot: {document['plot']}\nTensorBoard: tensorboard --logdir {folder}")


@app.command()
def experiments(
    grid: Annotated[Optional[Path], typer.Option(help="A grid TOML file ([baseline] + [[experiment]] tables); default: the design notes' grid.", show_default=False)] = None,
    only: Annotated[Optional[str], typer.Option(help="Comma-separated experiment names to run (the baseline always runs).", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Cap every experiment's epochs (shortens the grid).", show_default=False)] = None,
    train_limit: Annotated[Optional[int], typer.Option(min=1, help="Train on the first N images only.", show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(help="A grid folder to continue: finished experiments are skipped.", show_default=False)] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where the grid folder goes.")] = Path("runs"),
    data_dir: DataDirOption = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads for torch.", show_default=False)] = None,
    device: Annotated[Optional[str], typer.Option(help="auto | cpu | cuda | mps.", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Run the design notes' experiment grid: each change, one at a time, against the baseline (lr 1e-3, batch 64,
    10 epochs, 1 conv + 1 FC, Adam). Results go to runs/experiments_<timestamp>/ as CSV, JSON and Markdown."""
    from .engine import TrainingInterrupted, stop_on_signals
    from .errors import ConfigError
    from .experiments import BASELINE, DEFAULT_GRID, Experiment, experiment_config, load_grid, run_grid, select, write_results
    from .reporting.console import make_console
    from .reporting.experiments import results_table
    from .reporting.tensorboard import TensorBoardCallback
    from .reporting.training import ConsoleCallback
    from .runs import create_run_dir

    console = make_console(json_output)
    if resume is not None:
        saved = resume / "grid.json"
        if not saved.is_file():
            raise ConfigError(f"{resume}: no grid.json, not a grid folder", hint="pass a folder made by `mnist experiments`")
        document = json.loads(saved.read_text())
        baseline = document["baseline"]
        chosen = [Experiment(**e) for e in document["experiments"]]
        overrides = document["overrides"]
        folder = resume
    else:
        baseline, chosen = (load_grid(grid) if grid else (dict(BASELINE), list(DEFAULT_GRID)))
        chosen = select(chosen, [n.strip() for n in only.split(",") if n.strip()] if only else None)
        overrides = {"epochs": epochs, "train_limit": train_limit, "data_dir": str(data_dir) if data_dir else None,
                     "threads": threads, "device": device}  # fmt: skip
        for experiment in chosen:  # every configuration is checked before anything runs
            experiment_config(baseline, experiment, overrides)
        folder = create_run_dir(runs_dir, "experiments", label_first=True)
    console.print(f"{len(chosen)} experiment(s) in {folder}")

    def done(row, how):
        console.print(f"{row['name']}: {how}, test accuracy {row['test_accuracy']:.2f}% ({row['total_seconds']:.0f} s)")

    with stop_on_signals() as stop_event:
        def make_callbacks(name, trainer):
            trainer.stop_event = stop_event
            return [ConsoleCallback(console, f"Experiment {name}"), TensorBoardCallback(trainer.run_dir, trainer.data, trainer.config.to_dict(), purge_step=trainer.global_step or None)]

        try:
            rows = run_grid(folder, baseline, chosen, overrides, make_callbacks, done)
        except TrainingInterrupted:
            raise MnistError(f"experiments interrupted; finished ones are kept in {folder}",
                             hint=f"continue with `mnist experiments --resume {folder}`") from None  # fmt: skip
    files = write_results(folder, rows)
    if json_output:
        _emit_json({"folder": str(folder), "results": rows, "files": files})
        return
    console.print(results_table(rows))
    console.print(f"Results: {', '.join(files.values())}\nTensorBoard (HPARAMS tab): tensorboard --logdir {folder}")


def main() -> None:
    """Console-script entry point."""
    app()
