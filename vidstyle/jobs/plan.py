"""Planning: a job file expanded into tasks, one per (input image or clip, style, variant), and
the run folder they are kept in (:class:`Plan`, read once and passed down).

Each task is keyed by a fingerprint of its input (path, size, modification time), its style's
pixels (every style of a blend, in order), its options (a blend's weights among them) and its
output, so a ledger can tell a task already done from a new one: an edited option or a touched
input makes a new task, never a silent reuse of an old output.

The plan reads only file headers (image sizes, clip frame counts), never whole images or frames.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from vidstyle.config import MethodConfig, VideoConfig, folder_config, video_config
from vidstyle.engine import memory, planner
from vidstyle.errors import UsageError, VidstyleError
from vidstyle.fsutil import is_temporary, same_file
from vidstyle.jobs.jobfile import Job, JobFile, load
from vidstyle.media.formats import IMAGE_SUFFIXES, output_suffix
from vidstyle.media.images import fitted_size, probe_size
from vidstyle.pipeline.fingerprint import fingerprint, folder_part, task_video_part
from vidstyle.pipeline.styles import StyleSet

LEDGER_NAME = "ledger.sqlite"  # in the run folder, beside run.log and report.html
LOG_NAME = "run.log"
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg",
                            ".ts", ".mts", ".wmv", ".flv", ".3gp", ".ogv"})  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Task:
    """One output to make (built with keywords).

    Attributes:
        key: the fingerprint (16 hex digits).
        job: the job's name.
        kind: ``image`` or ``video`` (a video file or a frame folder).
        source: the input file or frame folder.
        style: the style image (the first of a blend).
        output: the result's path (a folder for a frame folder).
        variant: the swept options of this task, as text (empty without a sweep).
        options: every option of the task, named as on the command line: what the ledger
            keeps (the one place the options become a dict again).
        steps: optimization steps the task takes in all (every frame of a clip).
        pixels: working pixels of an image or of each frame (0 when the header is unreadable).
        position: the task's place in the plan.
        work: the levels and tiles an image or frame takes and the memory they need, one line
            (:func:`vidstyle.engine.planner.summary`; empty when the header is unreadable).
        blend: every style image of a blend, in order (empty for one style); the weights are
            the ``style_blend`` option.
        size: the working (width, height) of an image or of each frame (None when unknown).
        name: what progress lines call the task (empty: :attr:`label`'s default).
        method: the method's options, parsed once.
        video: a clip's options, parsed once.
        priority: the job's priority (higher is claimed first).
    """

    key: str
    job: str
    kind: str
    source: Path
    style: Path
    output: Path
    variant: str = ""
    options: dict = field(default_factory=dict)
    steps: int = 0
    pixels: int = 0
    position: int = 0
    work: str = ""
    size: tuple[int, int] | None = None
    name: str = ""
    blend: tuple[Path, ...] = ()
    method: MethodConfig = MethodConfig()
    video: VideoConfig = VideoConfig()
    priority: int = 0

    @property
    def styles(self) -> tuple[Path, ...]:
        """The style images: the blend's, or the one style."""
        return self.blend or (self.style,)

    @property
    def style_name(self) -> str:
        """The styles' names: ``starry``, or ``starry+scream`` for a blend."""
        return "+".join(path.stem for path in self.styles)

    @property
    def style_field(self) -> str:
        """The style as the ledger keeps it: its path, or a blend's paths one per line."""
        return "\n".join(str(path) for path in self.styles)

    @property
    def setup(self) -> tuple:
        """What an engine has ready after this task: the method's compiled steps for its working
        size, and its style's targets. Images of one setup run together in one engine call
        (:func:`vidstyle.jobs.runner.same_work`); a Ray worker prefers a task of its last one."""
        return (self.method, self.styles, self.size)

    @property
    def label(self) -> str:
        """A short name for progress lines: ``name``, else ``job: input ~ style (variant)``."""
        if self.name:
            return self.name
        variant = f" ({self.variant})" if self.variant else ""
        weights = self.method.style_blend if self.blend else None
        if weights and "style_blend" not in self.variant:
            variant = f" [{_weights(weights)}]{variant}"
        return f"{self.job}: {self.source.name} ~ {self.style_name}{variant}"


@dataclass(frozen=True)
class Plan:
    """A job file's tasks and the run folder they are kept in."""

    path: Path  # the job file, absolute
    run_dir: Path
    tasks: list[Task]

    @property
    def ledger_path(self) -> Path:
        return self.run_dir / LEDGER_NAME

    @property
    def log_path(self) -> Path:
        return self.run_dir / LOG_NAME

    def steps(self) -> int:
        return sum(t.steps for t in self.tasks)


def load_plan(path: str | Path) -> Plan:
    """Read, check and expand a job file (nothing is written).

    Raises:
        UsageError: one line naming the file, the job and the key.
    """
    jobs = load(path)
    return Plan(jobs.path, jobs.run_dir, plan(jobs))


def plan(jobfile: JobFile) -> list[Task]:
    """Every task of the job file, in the file's order.

    Raises:
        UsageError: naming the file and the job, for an input that is missing or holds nothing
            to stylize, an unusable option, two tasks writing one output, or an output that
            would overwrite an input.
    """
    tasks: list[Task] = []
    style_digests: dict[Path | tuple[Path, ...], str] = {}
    for job in jobfile.jobs:
        where = f"job {job.name!r}"
        try:
            items = _inputs(job)
            for style in job.styles:
                if style not in style_digests:
                    style_digests[style] = StyleSet.load(style).digest
            for swept in job.variants():
                variant = _Variant.of(swept, job.options | swept)  # its options read once
                for item, style in _product(items, job.styles):
                    tasks.append(_task(job, item, style, style_digests[style], variant,
                                       len(tasks)))  # fmt: skip
        except UsageError as error:
            raise UsageError(jobfile.path, f"{where}: {error.message()}") from None
        except VidstyleError as error:
            raise UsageError(jobfile.path, f"{where}: {error.message()}") from None
    _check_outputs(jobfile, tasks)
    return tasks


def _product(items, styles):
    return [(item, style) for style in styles for item in items]


def _inputs(job: Job) -> list[tuple[Path, str]]:
    """(input, its path relative to the input's root without suffix) for every image or clip."""
    text = str(job.input)
    if any(c in text for c in "*?["):
        fixed = text.split("*")[0].split("?")[0].split("[")[0]  # the part before any pattern
        root = Path(fixed) if fixed.endswith(("/", "\\")) else Path(fixed).parent
        found = [Path(p) for p in sorted(glob.glob(text, recursive=True))]
        items = [p for p in found if p.is_file() and _kind(p) is not None]
        where = root
    elif job.input.is_dir() and job.options.get("sequence"):
        return [(job.input, job.input.name)]
    elif job.input.is_dir():
        items = [p for p in sorted(job.input.rglob("*")) if _wanted(p, job.input)]
        where = job.input
    elif job.input.is_file():
        return [(job.input, job.input.stem)]
    else:
        raise UsageError(None, f"key 'input': no such file or folder {job.input}")
    if not items:
        raise UsageError(None, f"key 'input': {job.input} holds no images or videos")
    return [(p, p.relative_to(where).with_suffix("").as_posix()) for p in items]


def _wanted(path: Path, root: Path) -> bool:
    relative = path.relative_to(root)
    if any(part.startswith(".") for part in relative.parts) or is_temporary(path):
        return False
    return path.is_file() and _kind(path) is not None


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return "video" if suffix in VIDEO_SUFFIXES else None


@dataclass(frozen=True)
class _Variant:
    """One variant of a job: its swept options (its label), and every option, read once."""

    label: str
    options: dict
    method: MethodConfig
    video: VideoConfig
    folder: dict | None  # what of the folder options decides an image's output (None today)

    @classmethod
    def of(cls, swept: dict, options: dict) -> _Variant:
        """Raises UsageError for an option the configs refuse."""
        return cls(_variant_label(swept), options, MethodConfig.from_options(options),
                   video_config(options), folder_part(folder_config(options)))  # fmt: skip


def _task(job: Job, item: tuple[Path, str], style, style_digest: str, variant: _Variant,
          position: int) -> Task:  # fmt: skip
    (source, relative), method, label = item, variant.method, variant.label
    kind = "video" if source.is_dir() or _kind(source) != "image" else "image"
    blend = style if isinstance(style, tuple) else ()
    style = blend[0] if blend else style
    name = "+".join(path.stem for path in blend) or style.stem
    output = _output(job, kind, source, relative, name, label, variant.options)
    steps, (width, height) = _size(kind, source, method, variant.video)
    pixels = width * height
    decides = {"kind": kind, "output": str(output), "video": _video_part(kind, variant.options)}
    if kind == "image" and variant.folder is not None:
        decides["folder"] = variant.folder  # a folder option that changes an output (none today)
    return Task(
        key=fingerprint(source, style_digest, method, decides),
        job=job.name,
        kind=kind,
        source=source,
        style=style,
        output=output,
        variant=label,
        options=dict(variant.options),
        steps=steps,
        pixels=pixels,
        position=position,
        work=_work(height, width, method),
        size=(width, height) if pixels else None,
        blend=blend,
        method=method,
        video=variant.video,
        priority=job.priority,
    )


def _work(height: int, width: int, method: MethodConfig) -> str:
    """The levels and tiles of a working size, and the memory they need (the GPU's budget when
    one is read, else the host's: :func:`vidstyle.engine.memory.plan_budget`)."""
    if not height or not width:
        return ""
    budget = memory.plan_budget(method.memory_limit)
    return planner.summary(planner.Planner(method, budget).plan(height, width))


def _output(job, kind, source, relative, style_name, label, options) -> Path:
    """The job's output template filled in, under the job file's folder, with the suffix the
    result is written in (none for a frame folder's folder of frames); ``{style}`` is the style's
    name, or a blend's names joined by ``+``."""
    fields = {"job": job.name, "style": style_name, "path": relative,
              "name": Path(relative).name, "variant": label or "default"}  # fmt: skip
    name = job.output.format(**fields)
    if label and "{variant}" not in job.output:
        name = f"{name}_{label}"
    if kind == "image":
        name += folder_config(options).suffix or output_suffix(source)
    elif not source.is_dir():
        name += ".mp4"
    return Path(name) if Path(name).is_absolute() else job.root / name


def _variant_label(variant: dict) -> str:
    return "_".join(f"{key}-{_value(value)}" for key, value in variant.items())


def _value(value) -> str:
    if isinstance(value, (tuple, list)):
        return _weights(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _weights(weights) -> str:
    """Blend weights as in ``--style-blend``: ``0.7,0.3``."""
    return ",".join(f"{w:g}" for w in weights)


def _video_part(kind: str, options: dict) -> dict | None:
    """What of a clip's options decides its task's key (None for an image)."""
    if kind != "video":
        return None
    return task_video_part(video_config(options))


def _size(kind: str, source: Path, method: MethodConfig, config: VideoConfig):
    """(steps in all, (width, height) working size per image or frame), from headers; (0, 0)
    if unknown."""
    if kind == "image":
        size = probe_size(source)
        width, height = fitted_size(*size, method.max_size) if size else (0, 0)
        return method.steps, (width, height)
    frames, size = _clip_header(source, config)
    width, height = fitted_size(*size, method.max_size) if size else (0, 0)
    first = method.steps if config.steps_first is None else config.steps_first
    later = max(frames - 1, 0) * config.steps_next
    later += (config.passes - 1) * frames * config.later_pass_steps  # each later pass: every frame
    return first + later, (width, height)


def _clip_header(source: Path, config: VideoConfig) -> tuple[int, tuple[int, int] | None]:
    from vidstyle.media import video as videolib

    try:
        if source.is_dir():
            files = videolib.list_sequence(source)
            return len(files), probe_size(files[0])
        info = videolib.probe(source)
    except VidstyleError:
        return 1, None  # the task itself will fail with the reason
    frames = info.frame_count or round((info.duration or 0) * float(info.fps)) or 1
    if config.start is not None or config.end is not None:
        span = (config.end or info.duration or 0) - (config.start or 0)
        frames = max(1, min(frames, round(span * float(info.fps))))
    if config.max_frames:
        frames = min(frames, config.max_frames)
    return frames, (info.width, info.height)


def _check_outputs(jobfile: JobFile, tasks: list[Task]) -> None:
    """Refuse two tasks writing one output, and an output that is an input or a style."""
    seen: dict[Path, Task] = {}
    for task in tasks:
        other = seen.get(task.output)
        if other is not None:
            who = f"jobs {other.job!r} and {task.job!r}"
            if other.job == task.job:
                who = f"job {task.job!r}: {other.source.name} and {task.source.name}"
            raise UsageError(jobfile.path, f"{who} both write {task.output}",
                             hint="tell them apart in the 'output' template")  # fmt: skip
        seen[task.output] = task
    inputs = {t.source for t in tasks} | {style for t in tasks for style in t.styles}
    for task in tasks:
        if any(same_file(source, task.output) for source in inputs):
            raise UsageError(jobfile.path, f"job {task.job!r}: output {task.output} would "
                             "overwrite an input")  # fmt: skip
