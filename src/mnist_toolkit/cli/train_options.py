"""Every `mnist train` option, declared once in `TRAIN_OPTIONS`; `train` and `compare` build their parameters from it.

Each `TrainOption` names one parameter and how Typer declares it (flags, type, help, rich help panel,
shown default, min/max). `config=True` marks the options that go into a `TrainConfig` (compare and
every other command that trains take those); the others are `mnist train`'s own (--resume, --quiet, ...).
`with_train_options` gives a command its share of the table as parameters.
"""

from __future__ import annotations

import functools
import inspect as pyinspect
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, Union

import typer

from ..models import model_names
from ..training.config import PRESETS
from ..training.optim import OPTIMIZERS, SCHEDULERS
from .options import DataDirOption, JsonOption, VerboseOption


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


def _path_text(value: Optional[Path], option: str) -> Optional[str]:
    return None if value is None else str(value)


@dataclass(frozen=True)
class TrainOption:
    """One `mnist train` option.

    Attributes:
        name: the Python parameter name (its flag is derived from it unless `flags` says otherwise).
        type: the parameter's type, e.g. `Optional[int]`.
        help: the help text.
        panel: the rich help panel (Model, Optimizer, Data, Run).
        flags: Typer's parameter declarations, e.g. `("--amp/--no-amp",)`; empty: from `name`.
        default: the value when the option is not given (None: TrainConfig's own default applies).
        show_default: what `--help` shows as the default (False: nothing).
        min, max: the range Typer checks.
        parse: turns the value given into the TrainConfig value, e.g. "32,64" into [32, 64].
        config: a TrainConfig option (shared with compare) rather than one of `mnist train`'s own.
        annotation: a ready `Annotated[...]` alias shared with other commands (e.g. --data-dir), used as is.
    """

    name: str
    type: Any = None
    help: str = ""
    panel: Optional[str] = None
    flags: tuple[str, ...] = ()
    default: Any = None
    show_default: Union[bool, str] = True
    min: Optional[float] = None
    max: Optional[float] = None
    parse: Optional[Callable[[Any, str], Any]] = None
    config: bool = True
    annotation: Any = None
    envvar: Optional[str] = None  # an environment variable that sets the default

    @property
    def flag(self) -> str:
        """The option's (first) long flag, as error messages name it."""
        return self.flags[0].split("/")[0] if self.flags else "--" + self.name.replace("_", "-")

    def parameter(self) -> pyinspect.Parameter:
        """The option as a parameter of a command's signature, as Typer reads it."""
        annotation = self.annotation
        if annotation is None:
            limits = {key: value for key, value in (("min", self.min), ("max", self.max), ("envvar", self.envvar)) if value is not None}
            option = typer.Option(*self.flags, help=self.help, rich_help_panel=self.panel, show_default=self.show_default, **limits)
            annotation = Annotated[self.type, option]
        return pyinspect.Parameter(self.name, pyinspect.Parameter.POSITIONAL_OR_KEYWORD, default=self.default, annotation=annotation)


def _default_lrs(*names: str) -> str:
    """`adam 1e-3, nesterov 0.02`: the default learning rates of these optimizers, each number in its shorter spelling."""

    def short(value: float) -> str:
        plain, exponent = f"{value:g}", f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")
        return exponent if len(exponent) < len(plain) and float(exponent) == value else plain

    return ", ".join(f"{name} {short(OPTIMIZERS[name].default_lr)}" for name in names)


_MODEL = "Model"
_OPTIM = "Optimizer"
_DATA = "Data"
_RUN = "Run"

#: Every `mnist train` option, in the order `mnist train --help` lists them.
TRAIN_OPTIONS: tuple[TrainOption, ...] = (
    TrainOption("arch", Optional[str], f"Architecture: {', '.join(model_names())} (`mnist models`).", _MODEL, show_default="cnn"),
    TrainOption("conv_layers", Optional[int], "cnn: convolutional layers.", _MODEL, min=0, show_default="1"),
    TrainOption("filters", Optional[str], "cnn: filters per conv layer, one for all or one per layer (32,64).", _MODEL, show_default="32", parse=_int_list),
    TrainOption("kernel_size", Optional[int], "cnn: kernel size.", _MODEL, min=1, show_default="3"),
    TrainOption("stride", Optional[int], "cnn: convolution stride.", _MODEL, min=1, show_default="1"),
    TrainOption("padding", Optional[str], "cnn: valid | same | full.", _MODEL, show_default="same"),
    TrainOption("pool", Optional[str], "cnn: max | avg | none (2x2 after each conv).", _MODEL, show_default="max"),
    TrainOption("fc_layers", Optional[int], "cnn: fully connected layers, output layer included.", _MODEL, min=1, show_default="1"),
    TrainOption("hidden", Optional[str], "cnn: units of the hidden FC layers (128 or 256,128).", _MODEL, show_default="128", parse=_int_list),
    TrainOption("activation", Optional[str], "cnn: relu | tanh | sigmoid | gelu | leaky_relu.", _MODEL, show_default="relu"),
    TrainOption("dropout", Optional[float], "cnn: dropout before each FC layer.", _MODEL, min=0.0, max=0.99, show_default="0"),
    TrainOption("batch_norm", Optional[bool], "cnn: batch norm after each conv.", _MODEL, ("--batch-norm/--no-batch-norm",), show_default="off"),
    TrainOption("optimizer", Optional[str], f"{' | '.join(OPTIMIZERS)}.", _OPTIM, show_default="adam"),
    TrainOption("lr", Optional[float], f"Learning rate; default: the optimizer's own ({_default_lrs('adam', 'nesterov')}).", _OPTIM, show_default=False),
    TrainOption("momentum", Optional[float], f"Momentum ({', '.join(n for n, info in OPTIMIZERS.items() if info.takes_momentum)}).", _OPTIM,
                show_default=False),  # fmt: skip
    TrainOption("weight_decay", Optional[float], "Weight decay.", _OPTIM, min=0.0, show_default="0"),
    TrainOption("betas", Optional[str], "Adam betas, e.g. 0.9,0.999.", _OPTIM, show_default="0.9,0.999", parse=_float_pair),
    TrainOption("scheduler", Optional[str], f"{' | '.join(SCHEDULERS)}.", _OPTIM, show_default="none"),
    TrainOption("label_smoothing", Optional[float], "Label smoothing of the training loss.", _OPTIM, show_default="0"),
    TrainOption("epochs", Optional[int], "Epochs.", _OPTIM, show_default="10"),
    TrainOption("batch_size", Optional[int], "Batch size.", _OPTIM, show_default="64"),
    TrainOption("data_dir", annotation=DataDirOption, parse=_path_text),
    TrainOption("val_size", Optional[int], "Hold out N training images (seeded) for best.pt and early stopping.", _DATA, show_default="0"),
    TrainOption("patience", Optional[int], "Stop after N epochs without a better validation accuracy.", _DATA, min=1, show_default=False),
    TrainOption("train_limit", Optional[int], "Train on the first N training images.", _DATA, show_default=False),
    TrainOption("max_steps", Optional[int], "Stop after N optimizer steps.", _DATA, show_default=False),
    TrainOption("augment", Optional[bool], "Random rotation, shift and scale, batched on the device.", _DATA, ("--augment/--no-augment",), show_default="off"),
    TrainOption("augment_strokes", Optional[bool], "Also random stroke width and slant (other pens and hands).", _DATA,
                ("--augment-strokes/--no-augment-strokes",), show_default="off"),  # fmt: skip
    TrainOption("preset", Optional[str], f"{' | '.join(PRESETS)}: a starting point that options override.", _RUN, show_default="baseline"),
    TrainOption("config_file", Optional[Path], "TOML file with any option; command-line options win.", _RUN, ("--config",), show_default=False, config=False),
    TrainOption("resume", Optional[Path], "Continue a run: its folder or a checkpoint (only --epochs, --max-steps, --patience, --threads, --device may change).",
                _RUN, show_default=False, config=False),  # fmt: skip
    TrainOption("init_from", Optional[Path], "Start a new run from the weights of a run (its reported checkpoint) or a checkpoint; any other options.",
                _RUN, ("--init-from",), show_default=False, config=False),  # fmt: skip
    TrainOption("seed", Optional[int], "Seed of weights, batch order and validation split.", _RUN, show_default="0"),
    TrainOption("deterministic", Optional[bool], "Deterministic algorithms only.", _RUN, ("--deterministic/--no-deterministic",), show_default="off"),
    TrainOption("device", Optional[str], "auto | cpu | cuda | mps.", _RUN, show_default="auto"),
    TrainOption("amp", Optional[bool], "Mixed precision: float16 on CUDA, bfloat16 on a CPU that has it natively (the fast preset: on such a CPU).", _RUN, ("--amp/--no-amp",), show_default="off"),
    TrainOption("channels_last", Optional[bool], "Channels-last tensors (default: under CPU bfloat16 only; the fast preset: always).", _RUN,
                ("--channels-last/--no-channels-last",), show_default="auto"),  # fmt: skip
    TrainOption("threads", Optional[int], "CPU threads for torch.", _RUN, show_default=False),
    TrainOption("runs_dir", Optional[Path], "Folder of the run folders.", _RUN, show_default="runs", parse=_path_text),
    TrainOption("name", Optional[str], "Appended to the run folder's name.", _RUN, show_default=False),
    TrainOption("nproc", Optional[int], "Data-parallel over N local processes (torchrun, DDP); --batch-size stays the global batch.",
                _RUN, show_default=False, config=False),  # fmt: skip
    TrainOption("log_every", int, "Outside a terminal: a progress line every N steps (0: epoch lines only).", _RUN, min=0, default=100, config=False),
    TrainOption("quiet", bool, "No progress: only the result.", _RUN, ("--quiet", "-q"), default=False, config=False),
    TrainOption("onnx", bool, "Also write the ONNX model of the reported checkpoint beside it (or set MNIST_TRAIN_ONNX=0).", _RUN,
                ("--onnx/--no-onnx",), default=True, config=False, envvar="MNIST_TRAIN_ONNX"),  # fmt: skip
    TrainOption("wait_for_onnx", bool, "Write the ONNX model before exiting (by default a background process writes it, "
                "and mnist predict and evaluate wait for it).", _RUN, ("--wait-for-onnx",), default=False, config=False),  # fmt: skip
    TrainOption("json_output", annotation=JsonOption, default=False, config=False),
    TrainOption("verbose", annotation=VerboseOption, default=False, config=False),
)


def config_options(values: dict) -> dict:
    """The values given for TrainConfig options -> TrainConfig options (lists parsed, paths as strings).

    Raises:
        typer.BadParameter: a list option that does not parse.
    """
    options = dict(values)
    for option in TRAIN_OPTIONS:
        if option.parse is not None and option.name in options:
            options[option.name] = option.parse(options[option.name], option.flag)
    return options


def with_train_options(*, exclude: tuple[str, ...] = (), config_only: bool = True):
    """Give a command the options of `TRAIN_OPTIONS` (minus `exclude`) as parameters, after its own.

    The TrainConfig options arrive together, as given, in the dict `train_options` (in table order; turn
    it into TrainConfig options with `config_options`). With `config_only=False` the command also gets
    `mnist train`'s own options, each as the keyword argument of its name; the command names them as
    parameters without annotation, since the table declares them.
    """
    chosen = [option for option in TRAIN_OPTIONS if (option.config or not config_only) and option.name not in exclude]
    by_name = {option.name: option for option in chosen}
    config_names = [option.name for option in chosen if option.config]

    def decorate(func):
        own = pyinspect.signature(func, eval_str=True)  # Typer reads a __signature__ as it is: resolve the strings
        for param in own.parameters.values():
            if param.name in by_name and param.annotation is not pyinspect.Parameter.empty:
                raise TypeError(f"{func.__name__}: option {param.name!r} is declared in TRAIN_OPTIONS already")
        kept = [p for p in own.parameters.values() if p.name != "train_options" and p.name not in by_name]

        @functools.wraps(func)
        def command(**kwargs):
            values = {name: kwargs.pop(name) for name in config_names}
            return func(**kwargs, train_options=values)

        command.__signature__ = own.replace(parameters=kept + [option.parameter() for option in chosen])
        command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}
        return command

    return decorate
