"""Options with their defaults, as frozen dataclasses; the CLI builds them and passes them down.

Each option users set is declared once, as its field here made by :func:`vidstyle.options.option`
(help text, command-line and job-file name, parsing, choices, whether it changes the output);
the commands' parameters, the job-file schema and the fingerprint are generated from that.

The method defaults are those of Gatys et al. as specified for vidstyle (the TensorFlow tutorial
recipe): VGG19 content layer ``block5_conv2``, five style layers, weights 1e4 / 1e-2 / 30 and Adam
with learning rate 0.02, beta_1 0.99, epsilon 0.1 for 10 x 100 steps. L-BFGS (Gatys et al.'s own
optimizer), coarse-to-fine levels and an early stop are available beside it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from vidstyle.engine import device, planner, precision
from vidstyle.errors import UsageError
from vidstyle.media.formats import format_suffix
from vidstyle.options import (
    check_blend,
    check_choices,
    check_network,
    check_offsets,
    from_options,
    option,
    parse_blend,
    parse_layers,
    parse_time,
    read_offsets,
)

__all__ = ["FolderConfig", "MethodConfig", "VideoConfig", "folder_config", "video_config"]

CONTENT_LAYERS = ("block5_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
INIT_CHOICES = ("content", "noise")
OPTIMIZERS = ("adam", "lbfgs")
ADAM_STEPS = 1000  # the method's 10 epochs x 100 steps
# L-BFGS iterations when no steps are given: about the tutorial's 1000 Adam steps' loss
# (benchmarks/quality.py at 256 px: 1.03x its loss in 0.27x its time).
LBFGS_STEPS = 250
PRECISIONS = (*precision.CHOICES, *precision.ALIASES)  # mixed: auto's earlier name
PRESERVE_COLORS = ("none", "luminance", "histogram")  # see vidstyle.engine.colors
GPU_BATCH = 4  # images of a folder optimized together on a GPU when --batch is not given


@dataclass(frozen=True)
class MethodConfig:
    """How one image is optimized.

    Attributes:
        content_layers, style_layers: VGG19 layer names used by the losses.
        content_weight, style_weight, tv_weight: loss weights.
        learning_rate, beta_1, beta_2, epsilon: Adam's settings.
        optimizer: ``adam`` (the tutorial's, with the settings above) or ``lbfgs`` (projected
            L-BFGS in the graph, the pixels kept in 0..1, as Gatys et al. optimized with L-BFGS).
        steps: optimization steps per image: Adam steps, or L-BFGS iterations, shared out over
            the coarse-to-fine levels (see :func:`vidstyle.engine.planner.levels`). None (the
            default) takes the optimizer's: 1000 for Adam (10 x 100), LBFGS_STEPS for L-BFGS.
        scales: coarse-to-fine levels: 0 (the default) chooses them: one level up to 1024 px,
            above that from about 512 px up by sqrt(2) per level; 1 optimizes at the working size
            only; N starts at the working size / 2^(N-1) and doubles the size at each level (see
            :func:`vidstyle.engine.planner.levels`).
        tol: early stop: a level ends when its loss changed by less than this fraction over the
            last window (50 Adam steps, or 10 L-BFGS iterations); 0 turns it off.
        max_size: longest side of the working image in pixels (inputs are only ever shrunk); 0
            keeps the input's own size.
        style_scale: longest side of the style image relative to the working image's.
        init: ``content``, ``noise`` or the path of an image to start from.
        seed: seed for the noise initialisation.
        precision: the network's number type: ``float32``, ``bfloat16`` or ``float16`` (the image,
            the optimizer's state and every loss stay float32). ``auto`` (the default) and its
            earlier name ``mixed`` are resolved here, for this machine, by
            :func:`vidstyle.engine.precision.resolve`: a config always holds the precision that
            runs, so that fingerprints and reports name it.
        tf32: TF32 (a 10-bit mantissa) for float32 convolutions and matrix products on GPUs of
            compute capability 8.0+; off (the default) is exact float32, several times slower
            there (:mod:`vidstyle.engine.device`). One setting per process; fingerprinted if on.
        memory_limit: GiB the optimization may use; an image that would need more is refused up
            front (0: what the machine has free, see :mod:`vidstyle.engine.memory`).
        preserve_colors: ``none``, ``luminance`` (transfer on luminance only, the photo's chroma
            kept) or ``histogram`` (the style's colours matched to the photo's first); see
            :mod:`vidstyle.engine.colors`.
        style_blend: one weight per style image when several are given, adding up to 1; empty
            (the default) weighs them equally. The style target is the weighted blend of the
            styles' Gram matrices.
    """

    content_layers: tuple[str, ...] = option(
        CONTENT_LAYERS, "VGG19 content layers, comma-separated.", text=True, parse=parse_layers
    )
    style_layers: tuple[str, ...] = option(
        STYLE_LAYERS, "VGG19 style layers, comma-separated.", text=True, parse=parse_layers
    )
    content_weight: float = option(1e4, "Weight of the content loss.")
    style_weight: float = option(1e-2, "Weight of the style loss.")
    tv_weight: float = option(30.0, "Weight of the total-variation loss.")
    learning_rate: float = option(0.02, "Adam's learning rate.", key="lr")
    beta_1: float = 0.99
    beta_2: float = 0.999
    epsilon: float = 0.1
    optimizer: str = option(
        "adam", "adam (the tutorial's) or lbfgs (Gatys et al.'s).", choices=OPTIMIZERS
    )
    steps: int | None = option(
        None, "Steps per image.", show_default=f"{ADAM_STEPS} for adam, "
        f"{LBFGS_STEPS} for lbfgs"
    )  # fmt: skip
    scales: int = option(
        0, f"Coarse-to-fine levels: 0 automatic (above {planner.AUTO_ABOVE} px: from about "
        f"{planner.AUTO_START} px up by sqrt(2) per level), 1 full size only, N from size / "
        "2^(N-1) up."
    )  # fmt: skip
    tol: float = option(0.0, "Stop early once the loss changes less than this fraction (0: off).")
    max_size: int = option(
        512, "Longest side of the working image, in pixels (0: the input's own)."
    )
    style_scale: float = option(1.0, "Style image size relative to the working image.")
    init: str = option(
        "content", "Start from: content, noise, or an image FILE.", not_in=("video",)
    )
    seed: int = option(0, "Seed for {init} noise.", not_in=("video",))
    precision: str = option(
        "auto", "The network's number type: auto (bfloat16 where the chip multiplies it natively: "
        "AMX/AVX512-BF16 CPUs, GPUs of compute capability 8.0+; float16 on 7.x GPUs; float32 "
        "elsewhere), float32, bfloat16 or float16. The image, optimizer and losses stay float32.",
        choices=PRECISIONS,
    )  # fmt: skip
    tf32: bool = option(
        False, "Let float32 convolutions and matrix products run in TF32 on Ampere and later "
        "GPUs: several times faster with {precision} float32, a slightly different result. One "
        "setting per process.", later=True,
    )  # fmt: skip
    memory_limit: float = option(
        0.0, "GiB an image may use; larger ones are refused (0: what is free).", output=False
    )
    preserve_colors: str = option(
        "none",
        "Keep the photo's colours: none, luminance or histogram.",
        later=True,
        choices=PRESERVE_COLORS,
    )
    style_blend: tuple[float, ...] = option(
        (), "Weights of several styles, e.g. 0.7,0.3; they add up to 1.", show_default="equal",
        text=True, parse=parse_blend, toml=(int, float), later=True,
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.steps is None:
            object.__setattr__(self, "steps", self.default_steps(self.optimizer))
        if self.steps < 0:
            raise UsageError(None, f"{{steps}} must be 0 or more, got {self.steps}")
        check_choices(self)
        if self.precision in ("auto", *precision.ALIASES):
            object.__setattr__(self, "precision", precision.resolve(self.precision).precision)
        if self.scales < 0:
            raise UsageError(None, f"{{scales}} must be 0 (automatic) or more, got {self.scales}")
        if not self.tol >= 0:  # also rejects NaN
            raise UsageError(None, f"{{tol}} must be 0 or more, got {self.tol}")
        if self.max_size < 16 and self.max_size != 0:
            raise UsageError(None, f"{{max_size}} must be 0 (own size) or at least 16, "
                             f"got {self.max_size}")  # fmt: skip
        if self.style_scale <= 0:
            raise UsageError(None, f"{{style_scale}} must be positive, got {self.style_scale}")
        if not self.content_layers or not self.style_layers:
            raise UsageError(None, "at least one content layer and one style layer are needed")
        if not self.memory_limit >= 0:
            raise UsageError(None, f"{{memory_limit}} must be 0 or more, got {self.memory_limit}")
        check_blend(self.style_blend)
        if self.init not in INIT_CHOICES and not Path(self.init).is_file():
            raise UsageError(self.init, "{init} is neither content, noise nor an existing image")

    @property
    def layers(self) -> tuple[str, ...]:
        """Every layer the losses read, content layers first, without repeats."""
        return tuple(dict.fromkeys(self.content_layers + self.style_layers))

    @staticmethod
    def default_steps(optimizer: str) -> int:
        """Steps when none are given: the method's 1000 for Adam, LBFGS_STEPS for L-BFGS."""
        return LBFGS_STEPS if optimizer == "lbfgs" else ADAM_STEPS

    def replace(self, **changes) -> MethodConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_options(cls, options: dict) -> MethodConfig:
        """The method from options named as on the command line (and in job files): ``lr`` is
        the learning rate, layers are comma-separated names; other keys are ignored."""
        return from_options(cls, options)

    def blend_weights(self, styles: int) -> tuple[float, ...]:
        """The weight of each of ``styles`` style images: ``style_blend``, or equal weights.

        Raises:
            UsageError: ``style_blend`` gives another number of weights than there are styles.
        """
        if not self.style_blend:
            return (1.0 / styles,) * styles
        if len(self.style_blend) != styles:
            count = len(self.style_blend)
            raise UsageError(None, f"{{style_blend}} gives {count} weights for {styles} style "
                             "images", hint="give one weight per {style}")  # fmt: skip
        return self.style_blend


@dataclass(frozen=True)
class FolderConfig:
    """How a folder of images is walked.

    Attributes:
        overwrite: redo outputs that already exist instead of skipping them.
        suffix: output file extension (``.png``, ``.jpg``, ``.webp``, ``.tif``), or None to keep
            the input's; given as a format name (``--format png``). It is left out of the
            fingerprint: it is in the output's name, which the folder's manifest is keyed by.
        batch: how many images of one working size are optimized together; 0 (the default):
            :meth:`batch_size` chooses.
    """

    overwrite: bool = option(
        False, "Redo every output, even one made with the same options.", toml=(), output=False
    )
    suffix: str | None = option(
        None, "Output format: png, jpg, webp, tif.", key="format", parse=format_suffix,
        show_default="the input's", output=False,
    )  # fmt: skip
    batch: int = option(
        0, "Same-size images optimized together.", show_default=f"{GPU_BATCH} on a GPU, else 1",
        toml=(), output=False,
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.batch < 0:
            raise UsageError(None, f"{{batch}} must be 0 (automatic) or more, got {self.batch}")

    def batch_size(self) -> int:
        """``batch``, or when 0: :data:`GPU_BATCH` with a GPU (images run in parallel there, each
        getting the result it would get alone), 1 on the CPU, where a batch gains nothing."""
        if self.batch != 0:
            return self.batch
        return GPU_BATCH if device.gpu_present() else 1


def folder_config(options: dict) -> FolderConfig:
    """The folder options from options named as on the command line (and in job files:
    ``format``); other keys are ignored."""
    return from_options(FolderConfig, options)


WARM_STARTS = ("flow", "prev", "none")
TEMPORAL_WARPS = ("crisp", "lanczos", "linear")
NEW_CONTENTS = ("content", "warp")
PASS_STEPS = 10  # a frame's steps in each pass after the first when ``steps_pass`` is not set


@dataclass(frozen=True)
class VideoConfig:
    """How a clip is stylized frame by frame (Ruder, Dosovitskiy, Brox 2016).

    Attributes:
        steps_first: steps for the first frame and the first frame after a shot cut (None: the
            method's ``steps``).
        steps_next: steps (Adam) or iterations (L-BFGS) for every other frame, which starts
            from the previous result.
        optimizer_next: the optimizer of those frames: ``lbfgs`` (the default) or ``adam``
            (the method's settings otherwise). 20 L-BFGS iterations, the defaults, are a fifth of
            the evaluations of the 100 Adam steps they replaced (4.4x faster measured), at
            0.90-0.93x their temporal error by an independent flow and 0.99x their style drop
            (``benchmarks/frames.py``): a restarted Adam moves every pixel by about its rate at
            each of its first steps, L-BFGS only as far as the loss asks.
        warm_start: ``flow`` (previous result warped by optical flow, plus the temporal loss),
            ``prev`` (previous result as it is) or ``none`` (every frame from its content).
        temporal_weight: weight of the temporal loss (with ``flow``).
        temporal_warp: how the earlier result is warped into the frame, as its temporal target
            and start: ``crisp`` (the default: Lanczos, the detail the interpolation lost put
            back up to the shot's first frame's detail, :mod:`vidstyle.media.warped`),
            ``lanczos`` or ``linear`` (bilinear; the start is warped with Lanczos then). A
            bilinear target blurs each frame a little and the next is held to that blur: later
            frames softened to under half the crispness of the same frames stylized alone
            (issue 29); a plain Lanczos target loses a little at each warp, compounding slower.
        new_content: where the pixels new to a later frame start (content entering the
            picture, or just disoccluded: :func:`vidstyle.media.warped.fresh_pixels`):
            ``content`` (the default: the frame's content in the result's colours, with its
            texture; past the border, the texture just inside carried on) or ``warp`` (the
            earlier result warped, as before issue 29: its edge pixels repeated, streaks).
        shot_threshold: histogram distance above which two frames are a shot cut.
        start, end: the part of the clip to use, in seconds (None: from the start / to the end).
        max_frames: stop after this many frames.
        keep_size: scale the result back to the source's size.
        frames_dir: also keep the stylized frames there as numbered PNGs.
        long_term: frame offsets J of the temporal terms (Ruder et al. 2016, sec. 3.2, long-term
            consistency): frame i is held to the results of frames i - j, j in J, each warped by
            its own flow, every pixel counted for its nearest reliable earlier frame. ``(1,)``,
            the default, is the previous frame only; J must include 1.
        passes: sweeps over the clip (sec. 3.3, multi-pass): the first forward, then backward
            and forward in turn, each frame starting from a blend of its result of the sweep
            before and its warped neighbour's of this sweep. 1, the default, is one sweep; 2
            (ending on the backward sweep) measured less steady than 1, 3 steadier, 5 no
            steadier than 3.
        steps_pass: a frame's steps in each pass after the first, at a tenth of the method's
            learning rate (None: PASS_STEPS); few, so that each pass only nudges the blend (see
            :mod:`vidstyle.pipeline.passes`).
        render, keyframes, keyframe_every, train_minutes, network: :mod:`vidstyle.pipeline.network`.
    """

    steps_first: int | None = option(
        None, "Steps for the first frame and after a cut.", show_default="as {steps}"
    )
    steps_next: int = option(20, "Steps (or L-BFGS iterations) for later frames.")
    optimizer_next: str = option(
        "lbfgs", "Optimizer of later frames: lbfgs or adam (as {optimizer}).", choices=OPTIMIZERS
    )
    warm_start: str = option(
        "flow", "flow (warped previous result), prev or none.", choices=WARM_STARTS
    )
    temporal_weight: float = option(1e6, "Weight of the temporal loss (flow warm start).")
    temporal_warp: str = option(
        "crisp", "Warp of the earlier result into a frame (its temporal target and start): crisp "
        "(Lanczos with the detail it lost put back), lanczos or linear (bilinear target, "
        "lanczos start).", choices=TEMPORAL_WARPS,
    )  # fmt: skip
    new_content: str = option(
        "content", "Where pixels new to a later frame start: content (the frame's content in "
        "the result's colours and texture) or warp (the earlier result warped, edges repeated).",
        choices=NEW_CONTENTS,
    )  # fmt: skip
    shot_threshold: float = 0.5
    start: float | None = option(
        None, "Start time (seconds or hh:mm:ss).", text=True, parse=parse_time,
        toml=(int, float, str),
    )  # fmt: skip
    end: float | None = option(
        None, "End time (seconds or hh:mm:ss).", text=True, parse=parse_time,
        toml=(int, float, str),
    )  # fmt: skip
    max_frames: int | None = option(None, "Stop after N frames.")
    keep_size: bool = option(False, "Scale the result back to the source size.", frames=False)
    frames_dir: Path | None = option(None, "Also keep the frames as PNG.", toml=(), output=False)
    long_term: tuple[int, ...] = option(
        (1,), "Frame offsets of the temporal terms, e.g. 1,2,4: each frame is also held to the "
        "results 2 and 4 frames back where the flow to them is reliable (long-term consistency; "
        "1 = the previous frame only).", text=True, parse=read_offsets, toml=(str, int),
        later=True,
    )  # fmt: skip
    passes: int = option(
        1, "Sweeps over the clip: after the first, backward and forward in turn, each frame "
        "starting from a blend of its last result and its warped neighbour's (use 3: {passes} 3 "
        "measured 0.64-0.69x the temporal error of one pass on three clips, with more style).",
        later=True,
    )  # fmt: skip
    steps_pass: int | None = option(
        None, "Steps of each frame in each pass after the first, at a tenth of {lr}: few, so "
        "that each pass only nudges the blend of the sweeps.", show_default=str(PASS_STEPS),
        later=True,
    )  # fmt: skip
    render: str = option(
        "optimize", "How frames are made: optimize (each from the one before) or network (a "
        "network trained on stylized keyframes renders each alone).", later=True,
        choices=("optimize", "network"))  # fmt: skip
    keyframes: int = option(2, "Most keyframes of {render} network (each shot's first is "
                            "one whatever the number).", later=True)  # fmt: skip
    keyframe_every: int = option(0, "Every K-th frame a keyframe (up to {keyframes}); 0: where "
                                 "the content differs most.", later=True)  # fmt: skip
    train_minutes: float = option(0.0, "Most minutes of the network's training (it stops once "
        "converged); 0: as long as a keyframe took.", later=True)  # fmt: skip
    network: Path | None = option(
        None, "A network saved by a {render} network run (<output>.network.npz) to render "
        "with, for the same style: no keyframes, no training.", later=True, toml=(str,),
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_network(self)
        object.__setattr__(self, "long_term", check_offsets(self.long_term))
        if not isinstance(self.passes, int) or self.passes < 1:
            raise UsageError(None, f"{{passes}} must be at least 1, got {self.passes}")
        if (self.long_term != (1,) or self.passes > 1) and self.warm_start != "flow":
            raise UsageError(None, "{long_term} and {passes} need {warm_start} flow")
        check_choices(self)
        if min(self.steps_next, self.steps_first or 0, self.steps_pass or 0) < 0:
            raise UsageError(None, "{steps_first}, {steps_next} and {steps_pass} must be 0 or more")
        if self.max_frames is not None and self.max_frames < 1:
            raise UsageError(None, f"{{max_frames}} must be at least 1, got {self.max_frames}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise UsageError(None, f"{{end}} ({self.end}) must come after {{start}} ({self.start})")

    @property
    def later_pass_steps(self) -> int:
        """A frame's steps in each pass after the first: ``steps_pass``, or PASS_STEPS."""
        return PASS_STEPS if self.steps_pass is None else self.steps_pass


def video_config(options: dict) -> VideoConfig:
    """The video options from options named as on the command line (and in job files); times
    may be seconds or ``hh:mm:ss`` text; other keys are ignored."""
    return from_options(VideoConfig, options)
