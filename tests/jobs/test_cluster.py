"""A night over a local Ray cluster (2 CPUs, the tiny model): the same outputs as one process,
byte for byte (grouped images, a clip split at its shot cut and run in three passes), a killed
worker, a killed driver, no shared filesystem, real weights."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import ray
from conftest import textured
from held import Gate, held_tiny_factory
from nightmaker import EXPECTED_OUTPUTS, add_shot_cut, ledger_rows, make_night
from PIL import Image
from tinyvgg import tiny_engine

from vidstyle import batch
from vidstyle.jobs.cluster import worker_name
from vidstyle.jobs.settings import ClusterConfig, RunConfig
from vidstyle.jobs.status import status
from vidstyle.media.video import read_frames
from vidstyle.progress import NullReporter

ROOT = Path(__file__).resolve().parents[2]
PATHS = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "jobs")]
TWO = ClusterConfig(workers=2)
CLIP = "styled/beach/starry/beach.mp4"


@pytest.fixture(scope="module")
def cluster():
    """One local Ray for the module: 2 CPUs, workers that import vidstyle and the test helpers."""
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(PATHS)}}
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env=env)  # fmt: skip
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


_rows = ledger_rows


def _log(night: Path) -> str:
    return (night.with_name("night.vidstyle-run") / "run.log").read_text()


PEER_NIGHT = """
[defaults]
max_size = 32
steps = 4

[[job]]
name = "holiday"
input = "photos"
styles = ["styles/starry.jpg"]

[[job]]
name = "beach"
input = "clips/beach.mp4"
styles = ["styles/starry.jpg"]
priority = 1
steps_next = 2
passes = 3
steps_pass = 2
"""


def _encoded(monkeypatch) -> dict:
    """Night's folder -> its clip's frames as given to the encoder (before H.264)."""
    from vidstyle.pipeline import clipout

    encoded, write_video = {}, clipout.write_video

    def keep(dest, frames, *args, **kwargs):
        frames = list(frames)
        encoded[Path(dest).parents[3].name] = [rgb.copy() for rgb, _ in frames]
        write_video(dest, frames, *args, **kwargs)

    monkeypatch.setattr(clipout, "write_video", keep)
    return encoded


def _peer_night(root: Path) -> Path:
    """Three photos, two of one size (one group with ``--batch 2``) and one of another, and a
    clip of two shots (3 frames each, with sound), run in three passes. The clip is claimed
    first (its priority), so its two shots are the first work of the two idle workers."""
    night = make_night(root)
    add_shot_cut(night)  # the same files for both (x264 may encode a clip differently twice)
    Image.fromarray(textured(30, 40, seed=10)).save(root / "photos" / "c.png")  # a.jpg's size
    night.write_text(PEER_NIGHT)
    return night


def test_two_workers_make_what_one_process_makes_with_batch_and_passes(
    cluster, tmp_path, monkeypatch
):
    """--batch 2 and a clip of --passes 3 over two Ray workers: byte for byte the files (and the
    frames given to the encoder) of the same night in this process."""
    encoded = _encoded(monkeypatch)
    night = _peer_night(tmp_path / "here")
    shutil.copytree(tmp_path / "here", tmp_path / "ray")
    nights = [night, tmp_path / "ray" / night.name]
    two = RunConfig(batch=2)
    here = batch.run(nights[0], engine_factory=tiny_engine, settings=two)
    there = batch.run(nights[1], engine_factory=tiny_engine, cluster=TWO, settings=two)
    assert (here.done, here.failed) == (there.done, there.failed) == (4, 0)
    stills = sorted(p.relative_to(tmp_path / "here") for p in (tmp_path / "here/styled").rglob("*")
                    if p.suffix in (".jpg", ".png"))  # fmt: skip
    assert len(stills) == 3
    for name in stills:
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()
    assert len(encoded["here"]) == len(encoded["ray"]) == 6
    assert all(np.array_equal(a, b) for a, b in zip(encoded["here"], encoded["ray"]))
    assert len(list(read_frames(nights[1].parent / CLIP))) == 6  # and sound:
    assert av.open(str(nights[1].parent / CLIP)).streams.audio
    clip = _rows(nights[1])[-1]
    assert [(s["first"], s["frames"]) for s in clip.detail["shots"]] == [(0, 3), (3, 3)]
    # each shot is its own unit of work: both workers idle when the clip was cut, one shot each
    assert sorted(s["worker"] for s in clip.detail["shots"]) == ["w0", "w1"]
    reports = [json.loads(Path(_rows(n)[-1].detail["report"]).read_text()) for n in nights]
    assert [f["cut"] for f in reports[1]["frames"]] == [False, False, False, True, False, False]
    assert reports[0]["summary"]["shot_cuts"] == reports[1]["summary"]["shot_cuts"] == 1
    assert reports[1]["summary"]["passes"] == 3
    assert [(r.status, r.attempts) for r in _rows(nights[1])] == [("done", 1)] * 4
    assert "ray: 2 worker(s) of 1 CPU(s) each" in _log(nights[1])
    # the two images of one size ran together (in one engine call), in both
    assert _log(nights[0]).count(" ~ starry +1") == 1
    assert sorted(_units(_log(nights[1]))) == [1, 2]


def _units(log: str) -> list[int]:
    """How many images each unit sent to a worker held, from run.log: an image that starts on a
    worker with another one under way went with it."""
    under_way, units, last = {}, [], {}
    for verb, worker in re.findall(r"\] (start|done) holiday: .*?\bon (w\d)\b", log):
        if verb == "done":
            under_way[worker] -= 1
        elif under_way.get(worker):
            units[last[worker]] += 1
            under_way[worker] += 1
        else:
            last[worker], under_way[worker] = len(units), 1
            units.append(1)
    return units


def test_a_network_rendered_clip_spreads_its_frames_over_the_workers(cluster, tmp_path,
                                                                       monkeypatch):  # fmt: skip
    from vidstyle.engine.painter import Architecture, Painter
    from vidstyle.jobs import shots

    encoded = _encoded(monkeypatch)
    monkeypatch.setattr(shots, "CHUNK_FRAMES", 2)
    night = make_night(tmp_path / "here", frames=6)
    night.write_text(night.read_text() + 'render = "network"\nnetwork = "net.npz"\n')
    Painter.fresh(Architecture(width=4, blocks=1), "float32", seed=3).save(night.parent / "net.npz")
    shutil.copytree(tmp_path / "here", tmp_path / "ray")
    nights = [night, tmp_path / "ray" / night.name]
    batch.run(nights[0], engine_factory=tiny_engine)
    result = batch.run(nights[1], engine_factory=tiny_engine, cluster=TWO)
    assert (result.done, result.failed) == (9, 0)
    one, two = ([rgb.astype(int) for rgb in encoded[name]] for name in ("here", "ray"))
    assert len(one) == len(two) == 6 and all(np.abs(a - b).max() <= 1 for a, b in zip(one, two))
    clip = _rows(nights[1])[-1]  # any frame made alone: runs of 2 frames, not one shot of 6
    assert [(s["first"], s["frames"]) for s in clip.detail["shots"]] == [(0, 2), (2, 2), (4, 2)]
    report = json.loads(Path(clip.detail["report"]).read_text())
    assert report["summary"]["render"] == "network" and report["summary"]["shot_cuts"] == 0
    assert av.open(str(nights[1].parent / CLIP)).streams.audio


SLOW_NIGHT = """
[defaults]
max_size = 32
steps = 150

[[job]]
name = "holiday"
input = "photos"
styles = ["styles/starry.jpg"]
"""


class Killer(NullReporter):
    """Kills the worker process that starts ``target`` (found through Ray by its name), then
    lets the held engine calls through."""

    def __init__(self, target: str, gate: Gate):
        self.target, self.gate, self.killed = target, gate, []

    def start_item(self, name, steps, lane=None):
        if lane and not self.killed and self.target in name:
            pid = ray.get(ray.get_actor(worker_name(lane)).info.remote())["pid"]
            os.kill(pid, signal.SIGKILL)
            self.killed.append(lane)
            self.gate.allow(1000)


def test_a_killed_worker_s_task_is_retried_on_another(cluster, tmp_path):
    night = make_night(tmp_path)
    night.write_text(SLOW_NIGHT)
    gate = Gate(tmp_path / "gate")  # every task held until its worker is killed
    killer = Killer("a.jpg", gate)
    engines = held_tiny_factory(gate.folder)
    result = batch.run(night, reporter=killer, engine_factory=engines, cluster=TWO)
    assert killer.killed and (result.done, result.failed) == (2, 0)
    rows = {Path(r.source).name: r for r in _rows(night)}
    assert (rows["a.jpg"].status, rows["a.jpg"].attempts) == ("done", 2)
    assert (rows["b b.png"].status, rows["b b.png"].attempts) == ("done", 1)
    log = _log(night)
    lane = killer.killed[0]  # the retry line names the worker and its pid, then the reason
    assert re.search(rf"retry holiday: a.jpg ~ starry, on {lane} \(pid \d+ on [^)]+\): "
                     rf"worker {lane} \(pid", log), log  # fmt: skip
    assert "died while running it (attempt 1)" in log
    assert "done holiday: a.jpg ~ starry on w" in log and killer.killed[0] not in log.split(
        "done holiday: a.jpg ~ starry on ")[1][:3]  # fmt: skip
    retried = status(night).jobs[0].retried
    assert [(Path(source).name, attempts) for source, attempts, _ in retried] == [("a.jpg", 2)]
    assert "died while running it" in retried[0][2][0]


DRIVER = """
import sys
sys.path[:0] = {paths!r}
import ray
ray.init(address={address!r}, runtime_env={{"env_vars": {{"PYTHONPATH": {pythonpath!r}}}}},
         logging_level="ERROR", log_to_driver=False)
from held import held_tiny_factory
from vidstyle import batch
from vidstyle.jobs.settings import ClusterConfig
batch.run({night!r}, engine_factory=held_tiny_factory({gate!r}), cluster=ClusterConfig(workers=2))
"""


def _done(night: Path) -> int:
    ledger = night.with_name("night.vidstyle-run") / "ledger.sqlite"
    return sum(r.status == "done" for r in _rows(night)) if ledger.is_file() else 0


def test_a_killed_driver_is_resumed_by_the_same_command(cluster, tmp_path):
    night = make_night(tmp_path)
    # Images only: a clip's frames would take tickets too, so that three tickets let through
    # would not always be three finished tasks.
    night.write_text(night.read_text().split('[[job]]\nname = "beach"')[0])
    gate = Gate(tmp_path / "gate", allow=3)  # three images, then both workers are held
    script = DRIVER.format(paths=PATHS, address=cluster, night=str(night), gate=str(gate.folder),
                           pythonpath=os.pathsep.join(PATHS))  # fmt: skip
    driver = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    try:
        gate.wait_for_tickets(5, driver)  # 3 let through, one held on each worker
        give_up = time.monotonic() + 240
        while _done(night) < 3:  # the ledger records the three (held, nothing else can end)
            assert driver.poll() is None and time.monotonic() < give_up
            time.sleep(0.05)
        driver.kill()
        driver.wait()
    finally:
        gate.allow(1000)
    before = {r.key: r.finished for r in _rows(night) if r.status == "done"}
    assert len(before) == 3
    result = batch.run(night, engine_factory=tiny_engine, cluster=TWO)
    rows = _rows(night)
    assert len(rows) == 8 and result.done == 8 - len(before)
    assert all(r.status == "done" for r in rows)
    assert all(r.finished == before[r.key] for r in rows if r.key in before)  # not redone
    log = _log(night)
    assert "recovered" in log  # the dead driver's tasks, found by the rerun
    retried = [faults for job in status(night).jobs for _, _, faults in job.retried]
    assert retried and all("stopped without finishing" in f[0] for f in retried)
    for row in rows:
        variant = f" ({row.variant})" if row.variant else ""
        label = f"start {row.job}: {Path(row.source).name} ~ {Path(row.style).stem}{variant}:"
        assert log.count(label) >= 1
        if row.key in before:
            assert log.count(label) == 1


def test_without_a_shared_filesystem_and_with_an_unreadable_input(cluster, tmp_path):
    night = make_night(tmp_path)
    add_shot_cut(night)
    broken = tmp_path / "photos" / "c.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    config = ClusterConfig(workers=2, shared_fs=False)
    result = batch.run(night, engine_factory=tiny_engine, cluster=config)
    assert (result.done, result.failed) == (9, 4)
    for name in EXPECTED_OUTPUTS:
        assert (tmp_path / name).is_file()
    assert not list(tmp_path.rglob(".vidstyle-tmp-*"))
    state = status(night)
    assert state.exit_code == 1
    reasons = {reason for _, reason in state.jobs[0].failures}
    assert reasons == {f"{broken}: cannot decode image: not a recognised image format"}
    assert _log(night).count("failed holiday: c.png") == 4


@pytest.mark.real_weights
def test_real_weights_over_local_ray(cluster, tmp_path, real_weights):
    night = make_night(tmp_path)
    night.write_text(SLOW_NIGHT.replace("steps = 150", "steps = 3").replace(
        'input = "photos"', 'input = "photos/a.jpg"'))  # fmt: skip
    shutil.copytree(tmp_path, tmp_path.with_name(tmp_path.name + "-here"))
    here = tmp_path.with_name(tmp_path.name + "-here") / night.name
    result = batch.run(night, cluster=ClusterConfig(workers=1))
    assert (result.done, result.failed) == (1, 0)
    assert batch.run(here).done == 1  # the same task in this process
    name = "styled/holiday/starry/a.jpg"
    picture = np.asarray(Image.open(tmp_path / name), int)
    assert picture.shape[:2] == (24, 32)
    # what the real weights give here (a worker with other weights, or none, differs), and not
    # the photo (which a worker that returned its input would give)
    assert np.abs(picture - np.asarray(Image.open(here.parent / name), int)).max() <= 2
    photo = np.asarray(Image.open(tmp_path / "photos/a.jpg").resize((32, 24)), int)
    assert np.abs(picture - photo).mean() > 2


class Interrupter(NullReporter):
    """Presses Ctrl-C (SIGINT to this process) once, when a worker is under way."""

    pressed = False

    def start_item(self, name, steps, lane=None):
        if not self.pressed:
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_stops_every_worker_and_leaves_their_tasks_pending(cluster, tmp_path):
    night = make_night(tmp_path)
    # long enough that no task can end between the key press and the workers' next chunk
    night.write_text(SLOW_NIGHT.replace("steps = 150", "steps = 5000"))
    result = batch.run(night, reporter=Interrupter(), engine_factory=tiny_engine, cluster=TWO)
    assert result.signal == signal.SIGINT and result.done == 0
    assert [(r.status, r.attempts) for r in _rows(night)] == [("pending", 0)] * 2
    assert _log(night).count("it is pending again") == 2
    result = batch.run(night, deadline=time.time() + 0.001, engine_factory=tiny_engine,
                       cluster=TWO)  # fmt: skip
    assert result.done == 0 and result.stopped_by == "deadline"
