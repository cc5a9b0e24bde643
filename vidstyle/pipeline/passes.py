"""Multi-pass: sweeps over a clip after the first, backward and forward in turn (Ruder,
Dosovitskiy, Brox, "Artistic style transfer for videos", 2016, sec. 3.3).

The first pass is the frame loop of :mod:`vidstyle.pipeline.video`, which also keeps each frame's
content at the working size in the work folder. In pass p >= 2 the frames are taken in reverse
order when p is even and in order when it is odd. Frame i starts from the paper's blend of its own
result of pass p - 1 and the result of pass p of its neighbour n (the frame before it in this
sweep's order), warped into it::

    x'_i = delta c (x) warp(x_n) + (1 - delta c) (x) x_i^(p-1),   delta = 0.75

with c the warp's reliability mask. Its temporal term is against its neighbours in the sweep's
direction, at the long-term offsets when set (:mod:`vidstyle.pipeline.temporal`); the first frame
of a sweep, and a frame whose neighbour lies across a shot cut, starts from its own result with
no temporal term.

Each pass only nudges: a frame gets ``steps_pass`` Adam steps (PASS_STEPS, 10, by default) at a
tenth of the method's learning rate (LR_SHARE). It is the blend of the sweeps that makes the clip
steady; the steps keep the blend from washing the style out. Adam restarts for every frame, and
a restarted Adam at the full rate first throws a finished image about (20 steps from a finished
frame at 0.02 moved it by 9 levels on average and lowered its style drop from 74 to 64, where
0.005 moved it by 5 and raised the drop to 87; the former ``benchmarks/longclip.py
--restart-probe``, benchmarks/results.md History). As first built, with ``steps_next`` (100)
full-rate steps per frame and pass, three passes doubled
the temporal error of one; 10 steps at a tenth of the rate brought it to 43% of one pass's on 10
frames of the probe clip, with more style, not less, and to 53% on 24 frames. A heavier warped
neighbour in the start than the paper's delta of 0.5, 0.75, brought it to 46% on those 24 frames,
with 11% more style drop than one pass (the probe tables in ``benchmarks/results.md``,
History). The other
candidates measured there (a higher temporal weight in later passes, PASS_WEIGHT; a temporal term
also towards the neighbour ahead, BOTH_SIDES; five passes instead of three) made the clip less
steady and are off. Two passes, ending on the backward sweep, were less steady than one: three or
more are wanted.

Results of pass p are kept in ``pass<p>/`` of the work folder and the frames done in each pass
in its manifest, so a rerun goes on where a run stopped. The flows between frame pairs are
computed once, in the first pass, and kept there too. Once the last pass is done every frame is
measured again as in the first pass (against the frame before it), so that the report describes
the final frames.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from vidstyle.media import flow as flowlib
from vidstyle.media.images import load_image, save_image
from vidstyle.media.warped import steadied
from vidstyle.pipeline import temporal as temporallib
from vidstyle.pipeline.previous import Previous

DELTA = 0.75  # the warped neighbour's weight in a frame's start (the paper's: 0.5)
# The choices measured with the former benchmarks/longclip.py (benchmarks/results.md, History):
LR_SHARE = 0.1  # Adam's learning rate in later passes over the method's
PASS_WEIGHT = 1.0  # the temporal weight in later passes over ``temporal_weight``
BOTH_SIDES = False  # also hold a frame to its neighbour ahead in the sweep (its pass p - 1 result)


def run_passes(loop, work, records: list[dict], reporter) -> list[dict]:
    """Run the passes after the first (those not done yet) and measure the final frames.

    Args:
        loop: the clip's :class:`vidstyle.pipeline.video.FrameLoop`.
        work: the :class:`vidstyle.pipeline.workdir.WorkDir` holding the first pass's frames and
            contents; its ``final`` is set to the last pass.
        records: every frame's record of the first pass, in order.
        reporter: progress (each frame of each pass is an item).

    Returns:
        Every frame's record for the report: measures of its final result; ``steps`` and
        ``seconds`` add up all passes (``pass_seconds`` gives each).
    """
    cuts = [bool(r["cut"]) for r in records]
    for sweep in range(2, loop.config.passes + 1):
        loop.sweep = sweep
        done = work.sweeps.setdefault(str(sweep), {})
        order = range(len(records)) if sweep % 2 else range(len(records) - 1, -1, -1)
        for index in order:
            if str(index) in done:
                reporter.end_item(loop.name(index), "skipped", 0.0)
                continue
            done[str(index)] = _sweep_frame(loop, work, index, sweep, cuts)
            work.save(records)
            reporter.end_item(loop.name(index), "done", done[str(index)]["seconds"])
    work.final = loop.config.passes
    return final_records(loop, work, records)


def neighbours(index: int, sweep: int, offsets: tuple[int, ...], cuts: list[bool]) -> list[int]:
    """The frames that frame ``index`` is held to in pass ``sweep``: at each offset, backward in
    even passes and forward in odd ones, as long as they lie in the clip and in its shot.

    Args:
        index: the frame.
        sweep: the pass (2 or more).
        offsets: the long-term offsets, increasing.
        cuts: for each frame, whether a shot cut lies just before it.

    Returns:
        The neighbours' indices, nearest first.
    """
    step = -1 if sweep % 2 else 1  # odd passes go forward: the neighbours come before
    out = []
    for offset in offsets:
        other = index + step * offset
        low, high = sorted((index, other))
        if not 0 <= other < len(cuts) or any(cuts[low + 1 : high + 1]):
            break
        out.append(other)
    return out


def _sweep_frame(loop, work, index: int, sweep: int, cuts: list[bool]) -> dict:
    """Stylize one frame in pass ``sweep``; save its result; return its record of the pass."""
    started = time.monotonic()
    content = loop.working(load_image(work.content(index)).rgb)
    own = load_image(work.frame(index, sweep - 1)).rgb.astype(np.float32)
    others = neighbours(index, sweep, loop.config.long_term, cuts)
    near = [temporallib.Neighbour(abs(other - index), other, load_image(work.content(other)).rgb,
                                  load_image(work.frame(other, sweep)).rgb)
            for other in others]  # fmt: skip
    ahead = neighbours(index, sweep + 1, (1,), cuts) if BOTH_SIDES else []
    init, temporal = own, None
    if near:
        start = temporallib.start_from(index, content, near, loop.flows, loop.config.temporal_warp,
                                       loop.config.new_content == "content")  # fmt: skip
        blend = DELTA * start.mask[..., None]
        init = blend * start.warped + (1.0 - blend) * own
        if ahead:
            start = _both_sides(loop, work, index, content, start, ahead[0], sweep)
        temporal = loop.temporal(start)
        temporal = dataclasses.replace(temporal, weight=temporal.weight * PASS_WEIGHT)
    steps = loop.config.later_pass_steps
    rate = LR_SHARE * loop.engine.method.learning_rate
    result = loop.stylize(index, content, init, steps, temporal, learning_rate=rate)
    save_image(work.frame(index, sweep), result)
    record = {"steps": steps, "seconds": round(time.monotonic() - started, 3)}
    if temporal is not None:
        losses = loop.engine.losses(result, content, loop.targets, temporal)
        weighted = temporal.weight * losses["temporal"]
        record["temporal_share"] = weighted / max(losses["total"], 1e-12)
    return record


def _both_sides(loop, work, index, content, start, other: int, sweep: int):
    """``start`` with the temporal term of the neighbour ahead in the sweep joined in (its result
    of the pass before, warped into the frame by its flow; :func:`temporal.join`)."""
    result = load_image(work.frame(other, sweep - 1)).rgb.astype(np.float32)
    other_content = load_image(work.content(other)).rgb
    flow_of, flow_fo = loop.flows.pair(other, index, other_content, content)
    mask = flowlib.trusted_mask(flow_of, flow_fo, other_content, content)
    border = "extend" if loop.config.new_content == "content" else "replicate"
    if border == "extend":  # as start_from: the flow near the border continued from inside
        flow_fo = steadied(flow_fo, mask >= 0.5)
    warped = temporallib.warp_result(result, flow_fo, mask, loop.config.temporal_warp, border)
    return temporallib.join(start, warped, mask)


def final_records(loop, work, records: list[dict]) -> list[dict]:
    """Each frame's record with the measures of its final result (as the first pass measures:
    against the frame before it, unless a shot cut lies between)."""
    out, previous = [], None
    for record in records:
        index = record["index"]
        content = loop.working(load_image(work.content(index)).rgb)
        result = load_image(work.frame(index)).rgb
        before = None if record["cut"] else previous
        flows = None if before is None else loop.flows.pair(index - 1, index, before.content,
                                                             content)  # fmt: skip
        sweeps = [work.sweeps[str(p)][str(index)] for p in range(2, loop.config.passes + 1)]
        final = {key: record[key] for key in ("index", "time", "cut")}
        final["steps"] = record["steps"] + sum(s["steps"] for s in sweeps)
        final["seconds"] = round(record["seconds"] + sum(s["seconds"] for s in sweeps), 3)
        final["pass_seconds"] = [record["seconds"], *(s["seconds"] for s in sweeps)]
        final |= loop.measure(content, result, before, flows)
        if "temporal_share" in sweeps[-1]:
            final["temporal_share"] = sweeps[-1]["temporal_share"]
        out.append(final)
        previous = Previous(content, result, index)
    return out
