"""The ``vidstyle`` Typer application: the commands registered under their names, and the
program's entry point (the console script and ``python -m vidstyle``)."""

from __future__ import annotations

import typer

from vidstyle._cli import commands
from vidstyle._cli.batch import batch_app
from vidstyle.errors import debugging

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Repaint photos, image folders and videos in the style of a painting.",
)
app.command("image")(commands.image)
app.command("folder")(commands.folder)
app.command("video")(commands.video)
app.command("weights")(commands.weights_command)
app.command("demo")(commands.demo)
app.add_typer(batch_app, name="batch")


def main() -> None:
    """The ``vidstyle`` program: stderr keeps only vidstyle's own lines (unless debugging)."""
    if not debugging():
        from vidstyle.quietlogs import silence_native_logs

        silence_native_logs()
    app(prog_name="vidstyle")
