"""The `mnist` command: the one Typer `app`, its root options and the one error boundary.

Each command lives in a module of its own (`cli/train.py`, `cli/predict.py`, ...) and registers on `app`;
the options several commands share are in `cli/options.py`, the training options in `cli/train_options.py`.
Only Typer, the standard library and the light core modules are imported at start-up, so
`mnist --help` stays fast; torch and the heavier core modules are imported inside the commands.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from .._version import __version__
from ..errors import MnistError
from ..process_exit import end_process


DEBUG_ENV = "MNIST_DEBUG"
_state = {"debug": os.environ.get(DEBUG_ENV, "") not in ("", "0", "false")}


def _sentence(text: str) -> str:
    """`text` on one line, ending in one full stop, or in the '?' or '!' it ends with."""
    text = " ".join(text.split())
    return text if text.endswith(("?", "!")) else text.rstrip(".") + "."


def _error_line(message: str, hint: str = "") -> None:
    text = f"Error: {_sentence(message)}"
    if hint:
        text += f" Hint: {_sentence(hint)}"
    print(text, file=sys.stderr)


class MnistGroup(TyperGroup):
    """A Typer group that turns every failure into one `Error: ...` line and an exit status.

    The status is the error type's `exit_code` (errors.py): 2 for a usage error (Click's own, or a
    `ConfigError`/`UnknownName`: an invalid option value or combination), 1 for any other failure.
    """

    _command = ""  # the command being run (`mnist train`), once known: hints name it

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        finally:
            self._command = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))

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
            _error_line(exc.message, exc.hint_for(self._command or prog_name or "mnist"))
            return exc.exit_code
        except typer.TyperException as exc:  # Typer's own Click: usage errors derive from its public base
            if type(exc).__name__ == "NoArgsIsHelpError":  # `mnist` alone: the help, as usage
                print(exc.format_message(), file=sys.stderr)  # type: ignore[attr-defined]
                return 2
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else (prog_name or "mnist")
            _error_line(exc.format_message(), f"see `{command} --help`")  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", 2))
        except (typer.Abort, KeyboardInterrupt):
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


# The commands register on `app` as they are imported, in the order `mnist --help` lists them.
from . import download, inspect_cmd, train, models, runs, env, evaluate, predict, export, serve, compare, experiments  # noqa: E402, F401
from .train import _argv_without_nproc  # noqa: E402, F401  (tests import it from here)


def main() -> None:
    """Console-script entry point: the `mnist` command in a process of its own, ended by `end_process`."""
    try:
        app()
    except SystemExit as exc:
        end_process(exc.code)
    end_process(0)
