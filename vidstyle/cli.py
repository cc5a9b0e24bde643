"""The ``vidstyle`` command: Typer commands over the library. The only place that prints with
rich and picks exit codes (0 success, 1 failure, 2 usage error, 130 interrupted).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vidstyle.config import (
    CONTENT_LAYERS,
    PASS_STEPS,
    STYLE_LAYERS,
    FolderConfig,
    MethodConfig,
    VideoConfig,
    parse_offsets,
    parse_time,
)
from vidstyle.errors import (
    InternalError,
    UsageError,
    VidstyleError,
    debugging,
    flag,
    render,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Repaint photos, image folders and videos in the style of a painting.",
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# Options shared by the commands that stylize.
Style = Annotated[
    list[Path],
    typer.Option("--style", "-s", metavar="FILE", help="The style painting (repeat to blend)."),
]
StyleBlend = Annotated[
    str | None,
    typer.Option(
        help="Weights of several styles, e.g. 0.7,0.3; they add up to 1 (default: equal)."
    ),
]
PreserveColors = Annotated[
    str, typer.Option(help="Keep the photo's colours: none, luminance or histogram.")
]
MaxSize = Annotated[
    int, typer.Option(help="Longest side of the working image, in pixels (0: the input's own).")
]
Steps = Annotated[
    int | None,
    typer.Option(help="Steps per image [default: 1000 for adam (10 x 100), 250 for lbfgs]."),
]
Optimizer = Annotated[str, typer.Option(help="adam (the tutorial's) or lbfgs (Gatys et al.'s).")]
Scales = Annotated[
    int,
    typer.Option(help="Coarse-to-fine levels: 0 automatic (above 1024 px: from about 512 px up by "
                 "sqrt(2) per level), 1 full size only, N from size / 2^(N-1) up."),
]  # fmt: skip
Tol = Annotated[
    float, typer.Option(help="Stop early once the loss changes less than this fraction (0: off).")
]
ContentWeight = Annotated[float, typer.Option(help="Weight of the content loss.")]
StyleWeight = Annotated[float, typer.Option(help="Weight of the style loss.")]
TvWeight = Annotated[float, typer.Option(help="Weight of the total-variation loss.")]
Lr = Annotated[float, typer.Option("--lr", help="Adam's learning rate.")]
ContentLayers = Annotated[str, typer.Option(help="VGG19 content layers, comma-separated.")]
StyleLayers = Annotated[str, typer.Option(help="VGG19 style layers, comma-separated.")]
StyleScale = Annotated[float, typer.Option(help="Style image size relative to the working image.")]
Init = Annotated[str, typer.Option(help="Start from: content, noise, or an image FILE.")]
Seed = Annotated[int, typer.Option(help="Seed for --init noise.")]
Precision = Annotated[str, typer.Option(help="float32, or mixed (16-bit network, GPU).")]
MemoryLimit = Annotated[
    float, typer.Option(help="GiB an image may use; larger ones are refused (0: what is free).")
]
Weights = Annotated[Path | None, typer.Option(help="VGG19 weights file (.h5 or .bin).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]

DEFAULTS = MethodConfig()


def main() -> None:
    """The ``vidstyle`` program: stderr keeps only vidstyle's own lines (unless debugging)."""
    if not debugging():
        from vidstyle.quietlogs import silence_native_logs

        silence_native_logs()
    app(prog_name="vidstyle")


@contextlib.contextmanager
def reported_errors(subject: Path | None = None):
    """Turn errors into one-line messages and exit codes (tracebacks: VIDSTYLE_DEBUG=1); an
    unexpected one is an internal error about ``subject``, the item being worked on."""
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


def method_config(values: dict) -> MethodConfig:
    """MethodConfig from a command's parameters (its ``locals()``)."""
    return MethodConfig.from_options(values)


def reporter(quiet: bool):
    from vidstyle.progress import reporter_for

    return reporter_for(console, quiet)


def engine_for(method: MethodConfig, weights: Path | None, quiet: bool):
    """Resolve the weights (fetching them if needed), say where from, and build the engine."""
    from vidstyle import weights as weights_module
    from vidstyle.engine.optimize import build_engine

    source = weights_module.resolve(weights)
    if not quiet:
        console.print(f"VGG19 weights: {source.origin} ({source.path})", highlight=False)
    engine = build_engine(method, source)
    if engine.memory_note:  # the memory check is off: say why, in one line, even when quiet
        note = escape(render(engine.memory_note, flag))
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    return engine


def engines(weights: Path | None, quiet: bool):
    """``make_engine`` for the controller: builds (and announces) the engine for a method."""
    return lambda method: engine_for(method, weights, quiet)


@app.command()
def image(
    content: Annotated[Path, typer.Argument(help="The photo to repaint.")],
    style: Style,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Result file.")] = None,
    max_size: MaxSize = DEFAULTS.max_size,
    steps: Steps = None,
    optimizer: Optimizer = DEFAULTS.optimizer,
    scales: Scales = DEFAULTS.scales,
    tol: Tol = DEFAULTS.tol,
    content_weight: ContentWeight = DEFAULTS.content_weight,
    style_weight: StyleWeight = DEFAULTS.style_weight,
    tv_weight: TvWeight = DEFAULTS.tv_weight,
    lr: Lr = DEFAULTS.learning_rate,
    content_layers: ContentLayers = ",".join(CONTENT_LAYERS),
    style_layers: StyleLayers = ",".join(STYLE_LAYERS),
    style_scale: StyleScale = DEFAULTS.style_scale,
    style_blend: StyleBlend = None,
    preserve_colors: PreserveColors = DEFAULTS.preserve_colors,
    init: Init = DEFAULTS.init,
    seed: Seed = DEFAULTS.seed,
    precision: Precision = DEFAULTS.precision,
    memory_limit: MemoryLimit = DEFAULTS.memory_limit,
    weights: Weights = None,
    quiet: Quiet = False,
) -> None:
    """Stylize one image. -o defaults to <content>_<style>.png in the current folder."""
    from vidstyle import controller

    with reported_errors(content):
        method = method_config(locals())
        output = output or Path(f"{content.stem}_{controller.style_stem(style)}.png")
        make_engine = engines(weights, quiet)
        controller.stylize_image(content, style, output, method, make_engine, reporter(quiet))
    if not quiet:
        console.print(f"wrote {output}", highlight=False)


@app.command()
def folder(
    input_dir: Annotated[Path, typer.Argument(help="Folder of photos (walked recursively).")],
    style: Style,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    overwrite: Annotated[
        bool, typer.Option(help="Redo every output, even one made with the same options.")
    ] = False,
    format: Annotated[
        str | None, typer.Option("--format", help="Output format: png, jpg, webp, tif [keep].")
    ] = None,
    batch: Annotated[
        int, typer.Option(help="Same-size images optimized together [default: 4 on a GPU, else 1].")
    ] = 0,
    max_size: MaxSize = DEFAULTS.max_size,
    steps: Steps = None,
    optimizer: Optimizer = DEFAULTS.optimizer,
    scales: Scales = DEFAULTS.scales,
    tol: Tol = DEFAULTS.tol,
    content_weight: ContentWeight = DEFAULTS.content_weight,
    style_weight: StyleWeight = DEFAULTS.style_weight,
    tv_weight: TvWeight = DEFAULTS.tv_weight,
    lr: Lr = DEFAULTS.learning_rate,
    content_layers: ContentLayers = ",".join(CONTENT_LAYERS),
    style_layers: StyleLayers = ",".join(STYLE_LAYERS),
    style_scale: StyleScale = DEFAULTS.style_scale,
    style_blend: StyleBlend = None,
    preserve_colors: PreserveColors = DEFAULTS.preserve_colors,
    init: Init = DEFAULTS.init,
    seed: Seed = DEFAULTS.seed,
    precision: Precision = DEFAULTS.precision,
    memory_limit: MemoryLimit = DEFAULTS.memory_limit,
    weights: Weights = None,
    quiet: Quiet = False,
) -> None:
    """Stylize every image below a folder into a mirrored tree; outputs finished with the same
    input, style and options are skipped, others redone."""
    from vidstyle import controller

    with reported_errors(input_dir):
        method = method_config(locals())
        config = FolderConfig(overwrite=overwrite, suffix=_suffix(format), batch=_batch(batch))
        results = controller.stylize_folder(input_dir, style, output, method, config,
                                            engines(weights, quiet), reporter(quiet))  # fmt: skip
    print_summary(results)
    if any(result.status == "failed" for result in results):
        raise typer.Exit(1)


def _batch(batch: int) -> int:
    """``--batch``, or when 0: 4 with a GPU (images run in parallel there, each getting the result
    it would get alone), 1 on the CPU."""
    if batch != 0:
        return batch
    from vidstyle.engine.device import gpu_present

    return 4 if gpu_present() else 1


def _suffix(format: str | None) -> str | None:
    from vidstyle.media.formats import format_suffix

    return None if format is None else format_suffix(format)


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


@app.command()
def video(
    source: Annotated[Path, typer.Argument(help="A video file, or a folder of frames.")],
    style: Style,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Result video, or folder for frames.")
    ] = None,
    steps_first: Annotated[
        int | None, typer.Option(help="Steps for the first frame and after a cut [--steps].")
    ] = None,
    steps_next: Annotated[
        int, typer.Option(help="Steps for later frames.")
    ] = VideoConfig.steps_next,
    warm_start: Annotated[
        str, typer.Option(help="flow (warped previous result), prev or none.")
    ] = VideoConfig.warm_start,
    temporal_weight: Annotated[
        float, typer.Option(help="Weight of the temporal loss (flow warm start).")
    ] = VideoConfig.temporal_weight,
    long_term: Annotated[
        str,
        typer.Option(
            help="Frame offsets of the temporal terms, e.g. 1,2,4: each frame is also held to "
            "the results 2 and 4 frames back where the flow to them is reliable (long-term "
            "consistency; 1 = the previous frame only)."
        ),
    ] = "1",
    passes: Annotated[
        int,
        typer.Option(
            help="Sweeps over the clip: after the first, backward and forward in turn, each "
            "frame starting from a blend of its last result and its warped neighbour's "
            "(use 3: --passes 3 more than halved the temporal error on a test clip)."
        ),
    ] = VideoConfig.passes,
    steps_pass: Annotated[
        int | None,
        typer.Option(
            help=f"Steps of each frame in each pass after the first [{PASS_STEPS}], at a tenth "
            "of --lr: few, so that each pass only nudges the blend of the sweeps."
        ),
    ] = None,
    frames_dir: Annotated[Path | None, typer.Option(help="Also keep the frames as PNG.")] = None,
    start: Annotated[str | None, typer.Option(help="Start time (seconds or hh:mm:ss).")] = None,
    end: Annotated[str | None, typer.Option(help="End time (seconds or hh:mm:ss).")] = None,
    max_frames: Annotated[int | None, typer.Option(help="Stop after N frames.")] = None,
    keep_size: Annotated[
        bool, typer.Option(help="Scale the result back to the source size.")
    ] = False,
    restart: Annotated[bool, typer.Option(help="Discard an unfinished earlier run.")] = False,
    max_size: MaxSize = DEFAULTS.max_size,
    steps: Steps = None,
    optimizer: Optimizer = DEFAULTS.optimizer,
    scales: Scales = DEFAULTS.scales,
    tol: Tol = DEFAULTS.tol,
    content_weight: ContentWeight = DEFAULTS.content_weight,
    style_weight: StyleWeight = DEFAULTS.style_weight,
    tv_weight: TvWeight = DEFAULTS.tv_weight,
    lr: Lr = DEFAULTS.learning_rate,
    content_layers: ContentLayers = ",".join(CONTENT_LAYERS),
    style_layers: StyleLayers = ",".join(STYLE_LAYERS),
    style_scale: StyleScale = DEFAULTS.style_scale,
    style_blend: StyleBlend = None,
    preserve_colors: PreserveColors = DEFAULTS.preserve_colors,
    precision: Precision = DEFAULTS.precision,
    memory_limit: MemoryLimit = DEFAULTS.memory_limit,
    weights: Weights = None,
    quiet: Quiet = False,
) -> None:
    """Stylize a video clip (sound kept) or an image sequence, resumably and without flicker."""
    from vidstyle import controller

    with reported_errors(source):
        method = method_config(locals())
        config = VideoConfig(steps_first=steps_first, steps_next=steps_next,
                             warm_start=warm_start, temporal_weight=temporal_weight,
                             start=parse_time(start), end=parse_time(end), max_frames=max_frames,
                             keep_size=keep_size, frames_dir=frames_dir,
                             long_term=parse_offsets(long_term), passes=passes,
                             steps_pass=steps_pass)  # fmt: skip
        make_engine = engines(weights, quiet)
        result = controller.stylize_video(source, style, output, method, config, make_engine,
                                          reporter(quiet), restart)  # fmt: skip
    print_video_summary(result)


def print_video_summary(result) -> None:
    """The quality report's summary as a table, and where the files are."""
    table = Table(title="vidstyle video summary")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.summary.items():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        table.add_row(key.replace("_", " "), shown)
    console.print(table)
    console.print(f"wrote {result.output} (report: {result.report_path})", highlight=False)


@app.command("weights")
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


@app.command()
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


from vidstyle.batch_cli import batch_app  # noqa: E402 - it uses the helpers above

app.add_typer(batch_app, name="batch")
