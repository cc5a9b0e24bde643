"""Typer parameters generated from the options' declarations (:mod:`vidstyle.options`).

A command names the config classes whose options it takes and puts a parameter ``options``
where they go in its signature; :func:`with_options` replaces that parameter by one Typer option
per declared option (type, default, help, shown default, help panel) and calls the command with
their values gathered in the dict ``options``, keyed as in job files (``lr``, ``long_term``).
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated

import typer

from vidstyle.errors import flag, render
from vidstyle.options import Declared, cli_default, cli_type, declared

PANELS = {"MethodConfig": "Method options", "VideoConfig": "Video options",
          "ClusterConfig": "Ray options"}  # fmt: skip


def with_options(*configs: type, command: str):
    """Decorate a command so that it takes the options declared on ``configs``.

    Args:
        configs: config classes (``FolderConfig``, ``MethodConfig``, ``VideoConfig``) in the
            order their options are shown; those without a panel (``FolderConfig``) among the
            command's own options.
        command: the command's name, for options some commands leave out (``Option.not_in``).

    Returns:
        The decorator; the decorated command's signature lists the generated parameters in place
        of ``options``, and the command receives their values as ``options``.
    """

    def decorate(function):
        own = inspect.signature(function, eval_str=True)
        made = [
            _parameter(one, PANELS.get(cls.__name__))
            for cls in configs
            for one in declared(cls)
            if command not in one.option.not_in
        ]
        names = [p.name for p in made]
        parameters = []
        for parameter in own.parameters.values():
            chosen = made if parameter.name == "options" else [parameter]
            parameters += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in chosen]

        @functools.wraps(function)
        def command_with_options(**values):
            options = {name: values.pop(name) for name in names}
            return function(**values, options=options)

        command_with_options.__signature__ = own.replace(parameters=parameters)
        return command_with_options

    return decorate


def _parameter(one: Declared, panel: str | None) -> inspect.Parameter:
    """One option as a Typer parameter: ``--key`` (and its other flags), its help and default."""
    show = render(one.option.show_default, flag) if one.option.show_default else True
    info = typer.Option(*one.option.flags, help=render(one.option.help, flag), show_default=show,
                        rich_help_panel=panel)  # fmt: skip
    return inspect.Parameter(
        one.key,
        inspect.Parameter.KEYWORD_ONLY,
        default=cli_default(one),
        annotation=Annotated[cli_type(one), info],
    )
