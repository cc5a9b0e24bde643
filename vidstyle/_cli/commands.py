"""The commands that stylize (``image``, ``folder``, ``video``, ``demo``) and ``weights``: parse,
call the controller, print the outcome, pick the exit code. Their method, folder and video options
come from the declarations (:func:`vidstyle._cli.params.with_options`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidstyle._cli.common import (
    Quiet,
    Style,
    Weights,
    console,
    engines,
    method_from,
    reported_errors,
    reporter,
)
from vidstyle._cli.params import with_options
from vidstyle._cli.summaries import print_summary, print_video_summary
from vidstyle.config import FolderConfig, MethodConfig, VideoConfig, folder_config, video_config


@with_options(MethodConfig, command="image")
def image(
    content: Annotated[Path, typer.Argument(help="The photo to repaint.")],
    style: Style,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Result file.")] = None,
    options: dict | None = None,
    weights: Weights = None,
    quiet: Quiet = False,
) -> None:
    """Stylize one image. -o defaults to <content>_<style>.png in the current folder."""
    from vidstyle import controller

    with reported_errors(content):
        method = method_from(options)
        output = output or Path(f"{content.stem}_{controller.style_stem(style)}.png")
        make_engine = engines(weights, quiet)
        controller.stylize_image(content, style, output, method, make_engine, reporter(quiet))
    if not quiet:
        console.print(f"wrote {output}", highlight=False)


@with_options(FolderConfig, MethodConfig, command="folder")
def folder(
    input_dir: Annotated[Path, typer.Argument(help="Folder of photos (walked recursively).")],
    style: Style,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    options: dict | None = None,
    weights: Weights = None,
    quiet: Quiet = False,
) -> None:
    """Stylize every image below a folder into a mirrored tree; outputs finished with the same
    input, style and options are skipped, others redone."""
    from vidstyle import controller

    with reported_errors(input_dir):
        method = method_from(options)
        config = folder_config(options)
        results = controller.stylize_folder(input_dir, style, output, method, config,
                                            engines(weights, quiet), reporter(quiet))  # fmt: skip
    print_summary(results)
    if any(result.status == "failed" for result in results):
        raise typer.Exit(1)


@with_options(VideoConfig, MethodConfig, command="video")
def video(
    source: Annotated[Path, typer.Argument(help="A video file, or a folder of frames.")],
    style: Style,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Result video, or folder for frames.")
    ] = None,
    restart: Annotated[bool, typer.Option(help="Discard an unfinished earlier run.")] = False,
    options: dict | None = None,
    weights: Weights = None,
    quiet: Quiet = False,
) -> None:
    """Stylize a video clip (sound kept) or an image sequence, resumably and without flicker."""
    from vidstyle import controller

    with reported_errors(source):
        method = method_from(options)
        config = video_config(options)
        make_engine = engines(weights, quiet)
        result = controller.stylize_video(source, style, output, method, config, make_engine,
                                          reporter(quiet), restart)  # fmt: skip
    print_video_summary(result)


def weights_command(
    weights: Weights = None,
    offline: Annotated[bool, typer.Option(help="Do not download; only look locally.")] = False,
) -> None:
    """Show where the VGG19 weights come from, fetching them if needed."""
    from vidstyle import weights as weights_module

    with reported_errors():
        source = weights_module.resolve(weights, download=not offline)
        size = source.path.stat().st_size / 2**20
        console.print(f"source: {source.origin}", highlight=False)
        console.print(f"file:   {source.path} ({size:.1f} MiB, {source.kind})", highlight=False)


def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write.")] = Path(
        "vidstyle-demo"
    ),
    samples: Annotated[Path | None, typer.Option(help="The samples folder.")] = None,
    quiet: Quiet = False,
) -> None:
    """Stylize the bundled photos and the first second of the bundled clip (a few minutes).

    Small and quick: photos at 192 px and the clip at 128 px, with 100 L-BFGS iterations per
    image and first frame and 20 for each later frame.
    """
    from vidstyle import controller

    with reported_errors():
        samples = samples or controller.find_samples()
        make_engine = engines(None, quiet)
        results = controller.demo_photos(output, samples, make_engine, reporter(quiet))
        print_summary(results)
        clip = controller.demo_clip(output, samples, make_engine, reporter(quiet))
    print_video_summary(clip)
    if any(result.status == "failed" for result in results):
        raise typer.Exit(1)
