"""Lazy command loading: the root group lists commands from ``weightwatch.cli.COMMANDS``
and imports a command's module only when that command runs or its own help is shown.

Command modules import ``weightwatch.cli.app`` (the conventions and exit codes); this
module imports them, by name, on demand.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping

import typer
import typer.main
from typer import _click as click  # Typer vendors its own click
from typer.core import TyperArgument as Argument
from typer.core import TyperCommand
from typer.core import TyperGroup as Group
from typer.core import TyperOption as Option

from weightwatch.cli.app import _root, typer_app

_loaded: dict[str, Group] = {}


_METAVARS = {"str": "TEXT", "int": "INT", "float": "FLOAT", "Path": "PATH"}


def _no_type(ctx: object) -> None:
    return None


def _fixed_type(meta: str | None, ctx: object) -> str | None:
    return meta


def _plain_params(cmd: click.Command) -> None:
    """Help in click's plain style for every parameter of ``cmd`` and its subcommands:
    ``-o, --output FILE`` and ``PATH``, not Typer's ``<path>``/``<bool>`` type tags
    and ``{PATH}`` usage braces."""
    for param in cmd.params:
        if isinstance(param, Argument):
            name = (param.metavar or param.name or "ARG").upper()
            param.metavar = name
            shown = name + ("..." if param.nargs != 1 and not name.endswith("...") else "")
            usage = shown if param.required else f"[{shown}]"
            setattr(param, "display_type_rich", _no_type)  # noqa: B010 (instance override)
            setattr(param, "_usage_display_name", functools.partial(str, usage))  # noqa: B010
        elif isinstance(param, Option):
            meta: str | None = None
            if not (param.is_flag or param.count):
                label = param.bare_type().removeprefix("list[").removesuffix("]")
                meta = param.metavar or _METAVARS.get(label, label.upper())
            setattr(param, "display_type_rich", functools.partial(_fixed_type, meta))  # noqa: B010
    for sub in getattr(cmd, "commands", {}).values():
        _plain_params(sub)


def load_module_commands(module: str) -> Group:
    """The click group of everything ``weightwatch.cli.<module>`` registers (cached)."""
    if module not in _loaded:
        mod = importlib.import_module(f"weightwatch.cli.{module}")
        sub = typer_app()
        mod.register(sub)
        group = typer.main.get_group(sub)
        _plain_params(group)
        _loaded[module] = group
    return _loaded[module]


class LazyGroup(typer.core.TyperGroup):
    """The root group: commands are listed from a table and imported on first use.

    While the root's own help is being written, commands are stand-ins carrying the
    table's summary, so listing them imports nothing.
    """

    table: Mapping[str, tuple[str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.table)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.table.get(cmd_name)
        if entry is None:
            return None
        module, summary = entry
        if getattr(ctx, "_ww_listing", False):
            return TyperCommand(name=cmd_name, help=summary, short_help=summary)
        return load_module_commands(module).commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        ctx._ww_listing = True  # type: ignore[attr-defined]
        try:
            super().format_commands(ctx, formatter)
        finally:
            ctx._ww_listing = False  # type: ignore[attr-defined]


def create_app(table: Mapping[str, tuple[str, str]]) -> Group:
    """The root command: ``--version``, ``-h`` and the commands of ``table``
    (name → (module in ``weightwatch.cli``, one-line summary))."""
    group_cls = type("WeightwatchGroup", (LazyGroup,), {"table": dict(table)})
    app = typer_app(
        name="weightwatch",
        help="Safety infrastructure for open-weight model releases.",
        no_args_is_help=True,
        cls=group_cls,
    )
    app.callback()(_root)
    root = typer.main.get_group(app)
    _plain_params(root)
    return root


__all__ = ["LazyGroup", "create_app", "load_module_commands"]
