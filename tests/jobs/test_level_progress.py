"""Level events in the driver (in this process, no Ray): each worker's levels go to its lane."""


def test_the_driver_passes_a_workers_level_events_to_its_lane():
    from types import SimpleNamespace

    from vidstyle.engine.planner import Work
    from vidstyle.jobs.backends.ray import RayBackend

    calls = []
    reporter = SimpleNamespace(
        start_item=lambda name, steps, lane: calls.append(("start", name, steps, lane)),
        level=lambda index, works, lane: calls.append(("level", index, len(works), lane)),
        step=lambda done, loss, lane: calls.append(("step", done, loss, lane)),
    )
    works = [Work(32, 48, 10, None, 1, 1), Work(64, 96, 10, 16, 24, 2)]
    events = [("start", "a.jpg", 20), ("level", 0, works), ("step", 10, 2.5), ("level", 1, works)]
    RayBackend._events(SimpleNamespace(reporter=reporter), SimpleNamespace(lane="w2"), events)
    assert calls == [("start", "a.jpg", 20, "w2"), ("level", 0, 2, "w2"),
                     ("step", 10, 2.5, "w2"), ("level", 1, 2, "w2")]  # fmt: skip
