"""What every command shares: the consoles, the options every command has (styles, weights,
quiet), the reporter, the one place errors become messages and exit codes, and the engine's
announcement (where its weights come from, a note when its memory check is off).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from vidstyle.config import MethodConfig
from vidstyle.engine.precision import ALIASES, explain
from vidstyle.errors import InternalError, UsageError, VidstyleError, debugging, flag, render

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

Style = Annotated[
    list[Path],
    typer.Option("--style", "-s", metavar="FILE", help="The style painting (repeat to blend)."),
]
Weights = Annotated[Path | None, typer.Option(help="VGG19 weights file (.h5 or .bin).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


@contextlib.contextmanager
def reported_errors(subject: Path | None = None):
    """Turn errors into one-line messages and exit codes (tracebacks: VIDSTYLE_DEBUG=1); an
    unexpected one is an internal error about ``subject``, the item being worked on.

    Raises:
        typer.Exit: 2 for a usage error, 1 for any other, 130 after Ctrl-C.
    """
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished outputs are kept; rerun to resume")
        raise typer.Exit(130) from None
    except Exception as error:
        if debugging():
            raise
        known = error if isinstance(error, VidstyleError) else InternalError(subject, error)
        err_console.print(f"[bold red]error:[/] {escape(known.message(flag))}", highlight=False)
        raise typer.Exit(2 if isinstance(error, UsageError) else 1) from None


def reporter(quiet: bool):
    """The progress reporter for the console: none when quiet, rich bars on a terminal."""
    from vidstyle._cli.reporters import reporter_for

    return reporter_for(console, quiet)


def engine_for(method: MethodConfig, weights: Path | None, quiet: bool):
    """Resolve the weights (fetching them if needed), say where from, and build the engine."""
    from vidstyle import weights as weights_module
    from vidstyle.engine.optimize import build_engine

    source = weights_module.resolve(weights)
    if not quiet:
        console.print(f"VGG19 weights: {source.origin} ({source.path})", highlight=False)
    engine = build_engine(method, source)
    if not quiet:
        why = explain(method.precision, engine.device.index or 0)
        line = f"device: {engine.device.label}, precision {method.precision} ({why})"
        line += ", TF32 on" if method.tf32 else ""
        console.print(line, highlight=False)
    if engine.memory_note:  # the memory check is off: say why, in one line, even when quiet
        note = escape(render(engine.memory_note, flag))
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    return engine


def method_from(options: dict) -> MethodConfig:
    """The method of a command's options; ``--precision mixed``, auto's earlier name, says what
    it now means (one line)."""
    method = MethodConfig.from_options(options)
    if options.get("precision") in ALIASES:
        note = f"--precision mixed is now auto: {method.precision} here"
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    return method


def engines(weights: Path | None, quiet: bool):
    """``make_engine`` for the controller: builds (and announces) the engine for a method."""
    return lambda method: engine_for(method, weights, quiet)
