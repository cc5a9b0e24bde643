"""The runner on its own, with a stand-in executor: grouped claims, the hook as each task ends,
failures kept apart, and how a run is shown."""

from dataclasses import replace
from pathlib import Path

from vidstyle.errors import EncodeError, InputError
from vidstyle.jobs.backends.inprocess import InProcess
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task
from vidstyle.jobs.runner import View, run_tasks, same_work
from vidstyle.jobs.stop import StopFlag


class Executor:
    """Runs nothing: notes the groups it is given; ``bad`` inputs fail alone, ``crash`` inputs
    raise an unexpected error."""

    def __init__(self, bad=(), crash=()):
        self.calls, self.bad, self.crash = [], set(bad), set(crash)

    def run(self, task, reporter, stop=None):
        self.calls.append([task.key])
        reporter.start_item(task.label, task.steps)
        if task.key in self.crash:
            raise RuntimeError("boom")
        if task.key in self.bad:
            raise InputError(task.source, "cannot read it")
        return {"ran": task.key}

    def run_all(self, tasks, reporter, stop=None):
        if len(tasks) == 1:
            return [(self.run(tasks[0], reporter, stop), None)]
        return self.run_group(tasks, reporter, stop)

    def run_group(self, tasks, reporter, stop=None):
        self.calls.append([task.key for task in tasks])
        reporter.start_item(f"{tasks[0].label} +{len(tasks) - 1}", tasks[0].steps)
        return [(None, InputError(t.source, "cannot read it")) if t.key in self.bad
                else ({"ran": t.key}, None) for t in tasks]  # fmt: skip


class Recorder:
    wants_steps = False

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, *args[:2]))


def _tasks(sizes: dict) -> list[Task]:
    return [Task(key=key, job="j", kind="image", source=Path(f"{key}.png"), style=Path("s.png"),
                 output=Path(f"out/{key}.png"), steps=5, pixels=100, position=n, size=size,
                 name=f"{key}.png")
            for n, (key, size) in enumerate(sizes.items())]  # fmt: skip


def test_grouped_claims_run_together_and_fail_alone_with_the_hook_on_each_finished_task():
    tasks = _tasks({"a": (4, 3), "b": (2, 2), "c": (4, 3), "d": (4, 3), "e": None, "f": (2, 2)})
    ledger = Ledger(None, max_attempts=1)
    ledger.sync(tasks)
    executor, recorder, finished = Executor(bad={"c"}), Recorder(), []

    def hook(task):
        finished.append(task.key)
        if task.key == "f":
            raise EncodeError(Path("manifest"), "cannot record it")
        return "redone" if task.key == "a" else None

    view = View(unit="images", estimates=False, group_size=2, group_key=same_work, finished=hook)
    result = run_tasks(tasks, ledger, InProcess(executor), recorder, StopFlag(watched=False),
                       view=view)  # fmt: skip
    assert executor.calls == [["a", "c"], ["b", "f"], ["d"], ["e"]]
    assert finished == ["a", "b", "f", "d", "e"]  # never for a task that failed
    assert (result.done, result.failed) == (4, 2)
    assert sorted(result.errors) == ["c", "f"] and "cannot record it" in result.failures[1]
    status = {row.key: row.status for row in ledger.rows()}
    assert status == {"a": "done", "b": "done", "c": "failed", "d": "done", "e": "done",
                      "f": "failed"}  # fmt: skip
    ends = [call[1:] for call in recorder.calls if call[0] == "end_item"]
    assert ends[:4] == [("a.png", "redone"), ("c.png", "failed"), ("b.png", "done"),
                        ("f.png", "failed")]  # fmt: skip
    assert recorder.calls[0] == ("begin", 6, "images")
    assert not any(call[0] == "remaining" for call in recorder.calls)


def test_an_unexpected_error_is_tried_again_while_attempts_are_left():
    tasks = _tasks({"a": None, "b": None})
    ledger = Ledger(None, max_attempts=2)
    ledger.sync(tasks)
    executor = Executor(crash={"a"})
    lines = []
    result = run_tasks(tasks, ledger, InProcess(executor), Recorder(), log=lines.append,
                       view=View(group_size=4))  # fmt: skip
    assert executor.calls == [["a"], ["a"], ["b"]]  # no group key: one at a time, in order
    assert (result.done, result.failed) == (1, 1)  # the retried attempt is not a failure
    assert [(r.status, r.attempts) for r in ledger.rows()] == [("failed", 2), ("done", 1)]
    assert "a.png" in result.failures[0] and "boom" in result.failures[0]
    assert [line.split(":")[0] for line in lines if not line.startswith("start")] == [
        "retry a.png",
        "failed a.png",
    ]


def test_an_inline_run_shows_nothing_of_its_own():
    tasks = [Task(key="v", job="j", kind="video", source=Path("clip.mp4"), style=Path("s.png"),
                  output=Path("o.mp4"))]  # fmt: skip
    ledger = Ledger(None)
    ledger.sync(tasks)
    recorder = Recorder()
    run_tasks(tasks, ledger, InProcess(Executor()), recorder,
              view=View(estimates=False, inline=True))  # fmt: skip
    assert recorder.calls == [("start_item", "j: clip.mp4 ~ s", 0)]  # the task's own items only


def test_a_signal_between_tasks_ends_the_run_with_the_signal_and_the_log_says_what_happened():
    tasks = _tasks({"a": None, "b": None, "c": None})
    ledger = Ledger(None, max_attempts=1)
    ledger.sync(tasks)
    stop, lines = StopFlag(), []

    def after_task():  # a signal arrives while the report is written after the first task
        stop.signal = 15

    result = run_tasks(tasks, ledger, InProcess(Executor(bad={"a"})), Recorder(), stop,
                       after_task, lines.append)  # fmt: skip
    assert (result.done, result.failed, result.signal) == (0, 1, 15)
    assert result.stopped_by == "signal 15"
    assert [r.status for r in ledger.rows()] == ["failed", "pending", "pending"]
    assert lines == ["start a.png: image, 5 steps, to out/a.png",
                     "failed a.png: a.png: cannot read it"]  # fmt: skip


def test_images_of_a_style_and_of_a_blend_that_starts_with_it_never_run_together():
    single = _tasks({"s": (4, 3)})[0]
    blend = replace(single, key="b", blend=(Path("s.png"), Path("t.png")))
    assert same_work(single) == same_work(replace(single, key="other")) is not None
    assert same_work(blend) != same_work(single)  # the blend's pixels are not the style's


def test_an_executor_keeps_what_the_pipeline_returned_only_when_asked(tmp_path):
    from conftest import textured
    from PIL import Image
    from tinyvgg import tiny_engine

    from vidstyle.config import MethodConfig
    from vidstyle.jobs.executor import Executor as Real
    from vidstyle.progress import NullReporter

    for name, seed in (("p.png", 1), ("s.png", 2)):
        Image.fromarray(textured(16, 16, seed=seed)).save(tmp_path / name)
    task = Task(key="k", job="j", kind="image", source=tmp_path / "p.png",
                style=tmp_path / "s.png", output=tmp_path / "o.png",
                method=MethodConfig(max_size=16, steps=2))  # fmt: skip
    for keep in (False, True):  # a night would hold every result to its end
        executor = Real(tiny_engine, measure=False, keep=keep)
        executor.run(task, NullReporter())
        assert (task.key in executor.results) == keep
