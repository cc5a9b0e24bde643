"""The end of a clip: its finished frames joined into the output (with the source's sound, or as
numbered PNGs, and copied to ``frames_dir`` when asked) and the quality report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vidstyle.config import VideoConfig
from vidstyle.fsutil import atomic_path
from vidstyle.media.encode import write_video
from vidstyle.media.images import load_image, resize_to, save_image
from vidstyle.pipeline.temporal import unreliable_runs


def _final_frames(clip, config: VideoConfig, work, records) -> Iterator:
    """(record, frame at the output size) of every finished frame, each also saved in
    --frames-dir when given, so the work folder is read once."""
    for record in records:
        rgb = load_image(work.frame(record["index"])).rgb
        if config.keep_size and rgb.shape[:2] != clip.size[::-1]:
            rgb = resize_to(rgb, *clip.size)
        if config.frames_dir is not None:
            save_image(config.frames_dir / f"{record['index'] + 1:06d}.png", rgb)
        yield record, rgb


def deliver(clip, config: VideoConfig, work, records, output: Path) -> None:
    """Encode the video (or write the numbered PNGs), and copy frames to --frames-dir."""
    frames = _final_frames(clip, config, work, records)
    if clip.is_sequence:
        for record, rgb in frames:
            save_image(output / f"{record['index'] + 1:06d}.png", rgb)
    else:
        offset = config.start or 0.0
        timed = ((rgb, record["time"] - offset) for record, rgb in frames)
        write_video(output, timed, clip.fps, audio_from=clip.path,
                             audio_start=offset, audio_end=config.end)  # fmt: skip


def write_report(path: Path, records: list[dict], clip, config: VideoConfig,
                 precision: str | None = None, device: str | None = None,
                 extra: dict | None = None) -> dict:  # fmt: skip
    """Save the quality report (per frame and summary, with the network's ``precision`` and the
    ``device`` it ran on when given, and ``extra`` at the summary's end) as JSON; returns the
    summary."""
    pairs = [r for r in records if "temporal_error" in r and not r["cut"]]
    later = [r["seconds"] for r in records[1:] if not r["cut"]]
    shares = [r["temporal_share"] for r in records if "temporal_share" in r]
    summary = {
        "frames": len(records),
        "shot_cuts": sum(bool(r["cut"]) for r in records),
        "temporal_error": _mean([r["temporal_error"] for r in pairs]),
        "content_temporal_error": _mean([r["content_error"] for r in pairs]),
        "seconds_first_frame": records[0]["seconds"],
        "seconds_per_later_frame": _mean(later),
        "temporal_share_of_loss": _mean(shares),
        "temporal_held": _mean([r["temporal_held"] for r in records if "temporal_held" in r]),
        "crispness_kept": crispness_kept(records),
        "style_drop": _mean(
            [
                r["content_style_loss"] / max(r["style_loss"], 1e-12)
                for r in records
                if "style_loss" in r
            ]
        ),  # fmt: skip
        "warm_start": config.warm_start,
    }
    if config.render == "network":  # no frame starts from another
        del summary["warm_start"], summary["temporal_held"], summary["temporal_share_of_loss"]
    if precision is not None:
        summary["precision"] = precision
    if device is not None:
        summary["device"] = device
    if config.long_term != (1,):
        summary["long_term"] = ",".join(map(str, config.long_term))
    if config.passes > 1:
        summary["passes"] = config.passes
    if warning := unreliable_runs(records):
        summary["flow_warning"] = warning
    summary |= extra or {}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"summary": summary, "frames": records}, indent=1))
    return summary


def crispness_kept(records: list[dict]) -> float | None:
    """What a user sees of the softening: the worst later frame's crispness over the crispness
    of its shot's first frame (the one stylized from its content). A mean of the last quarter
    over the first can read near 1 on a long clip whose first quarter has already softened.

    Args:
        records: the frames' records, in order (``crispness`` and ``cut``).

    Returns:
        The smallest ratio, or None without a later frame.
    """
    first, worst = None, None
    for record in records:
        value = record.get("crispness")
        if value is None:
            continue
        if first is None or record.get("cut"):
            first = value
            continue
        ratio = value / max(first, 1e-12)
        worst = ratio if worst is None else min(worst, ratio)
    return worst


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
