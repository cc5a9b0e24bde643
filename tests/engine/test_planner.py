"""The planner's coarse-to-fine levels and their steps (no TensorFlow); its tiles and memory are
tested with the tiling (test_tiling.py) and the engine's requests (test_request.py)."""

from vidstyle.engine import planner


def test_steps_are_split_evenly_with_the_remainder_to_the_coarsest_levels():
    assert planner.split_steps(1000, 2) == [500, 500]
    assert planner.split_steps(1000, 3) == [334, 333, 333]
    assert planner.split_steps(7, 1) == [7]
    assert planner.split_steps(0, 3) == [0, 0, 0]


def test_levels_double_up_to_the_working_size():
    plan = planner.levels(300, 200, 90, 3)
    assert [(lv.height, lv.width, lv.steps) for lv in plan] == [(75, 50, 30), (150, 100, 30),
                                                                 (300, 200, 30)]  # fmt: skip
    assert planner.levels(300, 200, 0, 3) == [planner.Level(300, 200, 0)]
    # a coarse level under MIN_SIDE is dropped and its share goes to the others
    assert [lv.steps for lv in planner.levels(100, 40, 10, 2)] == [10]


def test_automatic_levels_start_near_512_and_grow_by_sqrt2_above_1024():
    assert planner.levels(768, 1024, 1000, 0) == [planner.Level(768, 1024, 1000)]
    plan = planner.levels(1536, 2048, 1000, 0)
    assert [(lv.height, lv.width) for lv in plan] == [(384, 512), (543, 724), (768, 1024),
                                                      (1086, 1448), (1536, 2048)]  # fmt: skip
    steps = [lv.steps for lv in plan]
    assert sum(steps) == 1000 and steps == sorted(steps, reverse=True)
    assert all(abs(a / b - 2**0.5) < 0.02 for a, b in zip(steps, steps[1:]))
    cost = sum(lv.steps * lv.height * lv.width for lv in plan) / (1000 * 1536 * 2048)
    assert 0.2 < cost < 0.3  # the ladder costs about a quarter of single-scale's steps
    longest = [max(lv.height, lv.width) for lv in planner.levels(3000, 4000, 250, 0)]
    assert longest[0] in range(450, 600) and longest[-1] == 4000 and len(longest) == 7
    assert planner.levels(1100, 40, 10, 0) == [planner.Level(1100, 40, 10)]  # too thin


def test_weighted_split_adds_up():
    assert planner.split_weighted(10, [2.0, 1.0, 1.0]) in ([5, 3, 2], [5, 2, 3])
    assert sum(planner.split_weighted(7, [1.4, 1.0])) == 7
    assert planner.split_weighted(0, [2.0, 1.0]) == [0, 0]
