"""The Ray options without a cluster: worker sizing, option checks, the one line without Ray, and
the progress of several workers side by side."""

import io
import sys

import pytest
from nightmaker import make_night
from rich.console import Console
from typer.testing import CliRunner

from vidstyle._cli import app
from vidstyle._cli.reporters import RichReporter
from vidstyle.errors import UsageError
from vidstyle.jobs.cluster import sizing
from vidstyle.jobs.settings import ClusterConfig
from vidstyle.progress import PlainReporter

runner = CliRunner()


def _node(cpus: int, gpus: int = 0) -> dict:
    return {"Alive": True, "Resources": {"CPU": float(cpus), "GPU": float(gpus)}}


def test_workers_fill_the_gpus_or_one_per_node_of_cpus():
    gpu_nodes = [_node(16, 4), _node(16, 4)]
    assert sizing(ClusterConfig(), gpu_nodes) == (8, 1, 1)
    assert sizing(ClusterConfig(gpus_per_worker=1), gpu_nodes) == (8, 1, 1)
    assert sizing(ClusterConfig(workers=3), gpu_nodes) == (3, 1, 1)
    assert sizing(ClusterConfig(), [_node(8), _node(4)]) == (2, 0, 4)  # any node takes any
    assert sizing(ClusterConfig(workers=2), [_node(2)]) == (2, 0, 1)
    assert sizing(ClusterConfig(gpus_per_worker=0), gpu_nodes) == (2, 0, 16)
    with pytest.raises(UsageError, match="fewer than gpus_per_worker"):
        sizing(ClusterConfig(gpus_per_worker=1), [_node(8)])
    with pytest.raises(UsageError, match="workers must be at least 1"):
        ClusterConfig(workers=0)


def test_without_ray_one_line_says_how_to_install_it(tmp_path, monkeypatch):
    night = make_night(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    result = runner.invoke(app, ["batch", "run", str(night), "--ray", "auto"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == ["error: --ray needs Ray, which is not installed (pip install 'vidstyle[ray]')"]
    assert not (tmp_path / "night.vidstyle-run").exists()


def test_worker_options_need_ray(tmp_path):
    night = make_night(tmp_path)
    result = runner.invoke(app, ["batch", "run", str(night), "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers, --gpus-per-worker and --no-shared-fs need --ray" in result.output


@pytest.mark.parametrize("pinned", [None, "bfloat16"])
def test_auto_precision_is_not_guessed_for_ray_workers_unless_pinned(pinned, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    """Issue 32, item 1: the plan would resolve auto for this machine, not for the workers it
    cannot see: a Ray run refuses it in one line, before any work, unless the job file names the
    precision or VIDSTYLE_AUTO_PRECISION says what auto means (then that is what runs, and what
    the task's fingerprint records)."""
    from vidstyle.jobs.cluster import refuse_guessed_precision
    from vidstyle.jobs.plan import load_plan

    night = make_night(tmp_path)
    monkeypatch.setattr("vidstyle.jobs.cluster.import_ray", lambda: None)
    monkeypatch.delenv("VIDSTYLE_AUTO_PRECISION")
    if pinned is None:
        result = runner.invoke(app, ["batch", "run", str(night), "--ray", "auto"])
        assert result.exit_code == 2
        (line,) = result.output.strip().splitlines()
        start = f"error: {night}: job 'holiday': --precision auto would be resolved for this"
        assert line.startswith(start) and "not for the Ray workers" in line
        assert "VIDSTYLE_AUTO_PRECISION" in line and "--precision in the job file" in line
        assert not (tmp_path / "night.vidstyle-run").exists()
        night.write_text(night.read_text().replace("[defaults]\n", '[defaults]\nprecision = '
                                                   '"float32"\n'))  # fmt: skip
    else:
        monkeypatch.setenv("VIDSTYLE_AUTO_PRECISION", pinned)
    work = load_plan(night)
    refuse_guessed_precision(work.tasks, work.path)  # named, or pinned: what runs is planned
    assert {t.method.precision for t in work.tasks} == {pinned or "float32"}


def test_a_network_clip_not_yet_trained_is_refused_before_a_ray_run(tmp_path, monkeypatch):
    """Keyframes and training are one worker's work: over Ray only a trained --network is split
    among the workers; refused in one line before any work."""
    night = make_night(tmp_path)
    night.write_text(night.read_text() + 'render = "network"\n')  # the clip's job is the last
    monkeypatch.setattr("vidstyle.jobs.cluster.import_ray", lambda: None)
    result = runner.invoke(app, ["batch", "run", str(night), "--ray", "auto"])
    assert result.exit_code == 2
    why = ("--render network over --ray splits the frames of a trained --network among the "
           "workers (train it once without --ray, then give --network)")  # fmt: skip
    assert result.output.strip().splitlines() == [f"error: {night}: job 'beach': {why}"]
    assert not (tmp_path / "night.vidstyle-run").exists()


def test_plain_lines_and_the_live_display_show_each_worker():
    out = io.StringIO()
    plain = PlainReporter(Console(file=out, width=120), every=10)
    plain.begin(3, "tasks")
    plain.start_item("night: a.jpg ~ starry", 20, lane="w0")
    plain.start_item("night: b.jpg ~ starry", 20, lane="w1")
    plain.step(10, 5.0, lane="w1")
    plain.step(10, 7.0, lane="w0")
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["[1/3] w0: night: a.jpg ~ starry: 20 steps",
                         "[1/3] w1: night: b.jpg ~ starry: 20 steps"]  # fmt: skip
    assert lines[2].startswith("  w1: step 10/20 loss 5") and "w0: step 10/20" in lines[3]
    rich = RichReporter(Console(file=io.StringIO(), force_terminal=True, width=120))
    rich.begin(3, "tasks")
    rich.start_item("night: a.jpg ~ starry", 20, lane="w0")
    rich.start_item("night: b.jpg ~ starry", 20, lane="w1")
    rich.start_item("night: c.jpg ~ starry", 20, lane="w0")  # w0's next task replaces its line
    rich.step(5, 1.0, lane="w1")
    shown = [task.description for task in rich.progress.tasks]
    assert shown == ["tasks", "  w1: night: b.jpg ~ starry", "  w0: night: c.jpg ~ starry"]
    rich.end()


def test_an_idle_worker_takes_a_task_like_its_last_one(tmp_path):
    from vidstyle.jobs.backends.ray import RayBackend, Slot
    from vidstyle.jobs.ledger import Ledger
    from vidstyle.jobs.plan import load_plan
    from vidstyle.jobs.recorder import Recorder
    from vidstyle.progress import NullReporter

    plan = load_plan(make_night(tmp_path))
    ledger = Ledger(plan.ledger_path)
    ledger.sync(plan.tasks)
    images = [t for t in plan.tasks if t.kind == "image"]
    last = images[-1]  # b b.png ~ scream, style weight 0.1: the plan's last image
    slots = [Slot("w0", None, 1, last=images[0].setup), Slot("w1", None, 1, last=last.setup)]
    recorder = Recorder(ledger, plan.tasks, lambda line: None, NullReporter())
    driver = RayBackend(None, slots, True, recorder)
    assert driver.claim(slots[1]) == [last]  # not the plan's first pending task
    assert driver.claim(slots[0]) == [images[0]]
    fresh = Slot("w2", None, 1)
    driver.slots.append(fresh)
    (taken,) = driver.claim(fresh)  # nothing like it ran: a task no other worker is set up for
    assert taken.setup not in {s.last for s in slots}
    ledger.close()


def test_the_cluster_s_options_are_declared_once_and_checked_on_the_command_line(tmp_path):
    night = make_night(tmp_path)
    shown = runner.invoke(app, ["batch", "run", "--help"], env={"COLUMNS": "200"}).output
    for name in ("--ray", "--workers", "--gpus-per-worker", "--no-shared-fs", "--max-attempts",
                 "--batch"):  # fmt: skip
        assert name in shown
    result = runner.invoke(app, ["batch", "run", str(night), "--ray", "auto",
                                 "--gpus-per-worker", "0.5"])  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --gpus-per-worker must be 0 or 1 (an engine uses one whole GPU), got 0.5"
    ]
    assert not (tmp_path / "night.vidstyle-run").exists()


JOB = '\n[[job]]\nname = "{name}"\ninput = "photos/a.jpg"\nstyles = ["styles/starry.jpg"]\n'


def test_finished_auto_precision_jobs_do_not_block_a_ray_run_of_new_ones(tmp_path, monkeypatch):
    """A job file whose finished jobs ran with precision auto (before the refusal existed): only
    the tasks still to run are checked, so a Ray run of a new job naming its precision goes on
    (the workers stand in-process here) and a new job of precision auto is still refused."""
    from tinyvgg import tiny_engine

    from vidstyle import batch
    from vidstyle.jobs.backends.inprocess import InProcess
    from vidstyle.jobs.executor import Executor
    from vidstyle.jobs.status import status

    night = make_night(tmp_path)
    monkeypatch.delenv("VIDSTYLE_AUTO_PRECISION")  # auto: what this machine would run
    monkeypatch.setattr("vidstyle.jobs.cluster.import_ray", lambda: None)
    monkeypatch.setattr("vidstyle.jobs.cluster.Cluster",
                        lambda config, factory: InProcess(Executor(factory)))  # fmt: skip
    night.write_text('[defaults]\nmax_size = 32\nsteps = 1\noutput = "styled/{job}/{path}"\n'
                     + JOB.format(name="old"))  # fmt: skip
    assert batch.run(night, engine_factory=tiny_engine).done == 1  # in-process: auto is fine
    night.write_text(night.read_text() + JOB.format(name="new") + 'precision = "float32"\n')
    ray = batch.run(night, engine_factory=tiny_engine, cluster=ClusterConfig())
    assert (ray.done, ray.failed) == (1, 0)  # the new job ran; the old one is not run again
    assert [(job.job, job.counts["done"]) for job in status(night).jobs] == [("old", 1),
                                                                          ("new", 1)]  # fmt: skip
    night.write_text(night.read_text() + JOB.format(name="later"))
    with pytest.raises(UsageError, match="job 'later': precision auto would be resolved"):
        batch.run(night, engine_factory=tiny_engine, cluster=ClusterConfig())
    assert status(night).jobs[-1].counts["pending"] == 1  # not run: refused before any work
