"""The tables printed after a folder or a clip: counts and times per status, the failures, and
the clip's quality summary."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from vidstyle._cli.common import console, err_console
from vidstyle.errors import flag, render


def print_summary(results) -> None:
    """A table of counts and time per status, then each failure with its reason."""
    table = Table(title="vidstyle folder summary")
    for column, justify in (("status", "left"), ("images", "right"), ("seconds", "right")):
        table.add_column(column, justify=justify)
    colour = {"done": "green", "skipped": "cyan", "failed": "red"}
    for status in ("done", "skipped", "failed"):
        chosen = [r for r in results if r.status == status]
        seconds = sum(r.seconds for r in chosen)
        table.add_row(f"[{colour[status]}]{status}[/]", str(len(chosen)), f"{seconds:.1f}")
    console.print(table)
    counts = ", ".join(f"{sum(r.status == s for r in results)} {s}" for s in colour)
    console.print(f"{counts}; {sum(r.seconds for r in results):.1f}s in all", highlight=False)
    from vidstyle.pipeline.folder import REDO_REASONS

    for why, text in REDO_REASONS.items():
        if count := sum(r.redone == why for r in results):
            console.print(f"{count} redone: {text}", highlight=False)
    for r in results:
        if r.status == "failed":
            reason = escape(render(r.reason or "", flag))
            err_console.print(f"[bold red]failed:[/] {reason}", highlight=False)


def print_video_summary(result) -> None:
    """The quality report's summary as a table, and where the files are; its flow warning (a run
    of frames whose flow could hardly be trusted) as a line on stderr."""
    table = Table(title="vidstyle video summary")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.summary.items():
        if key != "flow_warning":
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            table.add_row(key.replace("_", " "), shown)
    console.print(table)
    console.print(f"wrote {result.output} (report: {result.report_path})", highlight=False)
    if warning := result.summary.get("flow_warning"):
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
