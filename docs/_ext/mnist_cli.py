"""The `mnist-command` directive: a command's reference, read from the Typer app itself.

    ```{mnist-command} train
    ```

renders the command's usage line, its help text and one entry per argument and option (its flags,
type, default, environment variable and help), taken from the same Click objects that `mnist train
--help` prints, so the page cannot drift from the program. Typer 0.28 carries its own copy of Click,
which Click-based generators (sphinx-click, mkdocs-click) do not recognise, hence this small one.
`command_reference` (no Sphinx needed) is what the directive and the tests read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Parameter:
    """One argument or option of a command, as its reference shows it."""

    flags: str  # "--epochs", "--amp / --no-amp", "PATHS..."
    kind: str  # "argument" | "option"
    type: str
    default: str | None
    envvar: str | None
    help: str


@dataclass(frozen=True)
class CommandReference:
    name: str
    usage: str
    help: str
    parameters: list[Parameter]


def commands() -> dict:
    """The `mnist` commands by name (hidden ones left out), as Click command objects."""
    import typer

    from mnist_toolkit.cli import app

    group = typer.main.get_command(app)
    return {name: command for name, command in group.commands.items() if not command.hidden}


def _default(param) -> str | None:
    if isinstance(param.show_default, str):
        return param.show_default
    if param.show_default is False or param.default is None or param.required:
        return None
    default = param.default() if callable(param.default) else param.default
    if isinstance(default, bool):
        if not param.secondary_opts:
            return None if default is False else "on"
        return (param.opts if default else param.secondary_opts)[0]
    if isinstance(default, (list, tuple)):
        return ", ".join(map(str, default)) or None
    return str(default)


def _plain(text: str, keep_paragraphs: bool = False) -> str:
    """Help text as `--help` shows it: Rich markup rendered to plain text (an escaped `\\[x]` is `[x]`)."""
    from rich.text import Text

    paragraphs = [" ".join(Text.from_markup(part).plain.split()) for part in text.strip().split("\n\n")]
    return "\n\n".join(paragraphs) if keep_paragraphs else " ".join(paragraphs)


def command_reference(name: str) -> CommandReference:
    """Everything `mnist NAME --help` says, as data.

    Raises:
        KeyError: no such command.
    """
    import typer._click as click  # Typer's own copy of Click

    command = commands()[name]
    context = click.Context(command, info_name=f"mnist {name}")
    parameters = []
    for param in command.get_params(context):
        if getattr(param, "hidden", False) or param.name == "help":
            continue
        is_argument = param.param_type_name == "argument"
        flags = param.human_readable_name.upper() + ("..." if param.nargs == -1 else "") if is_argument else " / ".join(
            [", ".join(param.opts), ", ".join(param.secondary_opts)] if param.secondary_opts else [", ".join(param.opts)])
        kind_name = param.type.get_metavar(param, context) if hasattr(param.type, "get_metavar") else None
        parameters.append(Parameter(flags=flags, kind="argument" if is_argument else "option",
                                    type=kind_name or ("flag" if getattr(param, "is_flag", False) else param.type.name),
                                    default=_default(param), envvar=param.envvar if isinstance(param.envvar, str) else None,
                                    help=_plain(getattr(param, "help", None) or "")))  # fmt: skip
    usage = command.get_usage(context).removeprefix("Usage:").strip()
    return CommandReference(name, usage, _plain(command.help or "", keep_paragraphs=True), parameters)


def setup(app):
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class MnistCommand(SphinxDirective):
        required_arguments = 1
        has_content = False

        def run(self):
            name = self.arguments[0]
            import mnist_toolkit.cli as cli_package

            for source in Path(cli_package.__file__).parent.glob("*.py"):  # the page is stale when the CLI changes
                self.env.note_dependency(str(source))
            try:
                reference = command_reference(name)
            except KeyError:
                raise self.error(f"mnist has no command {name!r}") from None
            section = [nodes.literal_block(text=reference.usage, language="text")]
            section += [nodes.paragraph(text=" ".join(paragraph.split())) for paragraph in reference.help.split("\n\n") if paragraph.strip()]
            entries = nodes.definition_list()
            for parameter in reference.parameters:
                term = nodes.term()
                term += nodes.literal(text=parameter.flags)
                if parameter.type and parameter.type != "flag":
                    term += nodes.Text(f"  {parameter.type}")
                body = nodes.definition()
                body += nodes.paragraph(text=parameter.help or "(no help)")
                facts = [f"default: {parameter.default}"] if parameter.default else []
                facts += [f"environment variable: {parameter.envvar}"] if parameter.envvar else []
                if facts:
                    body += nodes.paragraph(text="; ".join(facts))
                entries += nodes.definition_list_item("", term, body)
            return [*section, entries]

    app.add_directive("mnist-command", MnistCommand)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
