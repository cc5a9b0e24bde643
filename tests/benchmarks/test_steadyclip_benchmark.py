"""``python -m benchmarks.steadyclip``: what the yardstick charges perfectly steady clips."""

import benchlog
import cv2
import numpy as np
import pytest

from benchmarks import harness, steadyclip, yardstick
from vidstyle.media.images import save_image


def test_a_steady_clip_of_a_crisper_picture_is_charged_more(tmp_path, capsys):
    crisp = harness.resized(harness.STYLE, 64, 96)
    soft = cv2.GaussianBlur(crisp, (0, 0), 1.5)
    save_image(tmp_path / "crisp.png", crisp)
    save_image(tmp_path / "soft.png", soft)
    argv = [str(tmp_path / "soft.png"), str(tmp_path / "crisp.png"), "--frames", "5"]
    out, entry = benchlog.run(steadyclip, argv, tmp_path, capsys)
    (table,) = entry["tables"]
    assert [row[0] for row in table[1:]] == ["soft.png", "crisp.png"]
    head = table[0]
    soft_row, crisp_row = table[1], table[2]
    assert float(soft_row[head.index("σ1/first")].rstrip("x")) == 1
    # the same steadiness, more detail: charged more, full band and after the low-pass
    assert float(crisp_row[head.index("steady mse")]) > float(soft_row[head.index("steady mse")])
    assert float(crisp_row[head.index("σ1/first")].rstrip("x")) > 1
    assert entry["precision"] == "no network"


def test_the_steady_clip_moves_with_the_camera():
    image = harness.resized(harness.STYLE, 48, 64)
    moved = yardstick.moved(image, (3.0, 1.0), 8)  # whole pixels: an exact copy, moved
    np.testing.assert_allclose(moved[:-1, :-3].astype(int), image[1:, 3:].astype(int), atol=1)
    with pytest.raises(SystemExit):
        steadyclip.main([harness.STYLE.as_posix(), "--frames", "40", "--results", "-"])
