"""The clip's painter network: any frame size in and out, saved and loaded to the bit, bad files
refused with one line naming them."""

import numpy as np
import pytest
from conftest import textured

from vidstyle.engine.painter import Architecture, Painter, read_file
from vidstyle.errors import InputError

TINY = Architecture(width=4, blocks=1)


@pytest.fixture(scope="module")
def painter():
    return Painter.fresh(TINY, "float32", seed=3, meta={"style": "abc", "size": 64})


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (15, 15), (37, 50), (64, 96)])
def test_any_size_gives_a_frame_of_its_size(painter, shape):
    frame = textured(*shape) if min(shape) > 1 else np.full((*shape, 3), 90, np.uint8)
    out = painter.render(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    batch = painter.render(np.stack([frame, frame[::-1, ::-1]]))
    assert batch.shape == (2, *frame.shape)
    np.testing.assert_array_equal(batch[0], out)  # a frame renders the same alone or batched


def test_saved_and_loaded_it_renders_the_same(painter, tmp_path):
    frame = textured(40, 56, seed=1)
    path = tmp_path / "net.npz"
    painter.save(path)
    loaded = Painter.load(path)
    assert loaded.architecture == TINY
    assert loaded.meta == {"style": "abc", "size": 64, "precision": "float32"}
    np.testing.assert_array_equal(loaded.render(frame), painter.render(frame))


def test_a_fresh_painters_residual_blocks_start_as_the_identity():
    model = Painter.fresh(Architecture(width=4, blocks=2), "float32").model
    lasts = [model.get_layer(f"res{block}_2").get_weights()[0] for block in range(2)]
    assert all(not np.any(kernel) for kernel in lasts)
    assert np.any(model.get_layer("res0_1").get_weights()[0])  # the first: drawn as any other


def test_the_seed_decides_the_fresh_weights():
    a, b = (Painter.fresh(TINY, "float32", seed=5) for _ in range(2))
    c = Painter.fresh(TINY, "float32", seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights(), b.weights()))
    assert not all(np.array_equal(x, y) for x, y in zip(a.weights(), c.weights()))


def test_bfloat16_renders_close_to_float32(painter, tmp_path):
    path = tmp_path / "net.npz"
    painter.save(path)
    frame = textured(32, 48, seed=2)
    low = Painter.load(path, "bfloat16")
    assert low.meta["precision"] == "bfloat16"
    diff = np.abs(low.render(frame).astype(int) - painter.render(frame).astype(int))
    assert diff.mean() < 3


@pytest.mark.parametrize("content", [b"", b"not a zip at all", None])
def test_a_file_that_is_not_a_painter_is_refused_naming_it(tmp_path, content):
    path = tmp_path / "net.npz"
    if content is None:
        np.savez(path, header=np.array('{"format": "something-else"}'))
    else:
        path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_file(path)
    assert str(path) in caught.value.message() and "not a vidstyle network" in caught.value.reason


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such network file"):
        Painter.load(tmp_path / "missing.npz")


def test_weights_of_another_architecture_are_refused(painter, tmp_path):
    path = tmp_path / "net.npz"
    Painter.fresh(Architecture(width=8, blocks=1), "float32").save(path)
    header, arrays = read_file(path)
    header_only = {"header": np.array(__import__("json").dumps(header | {
        "architecture": {"width": 4, "blocks": 1}}))}  # fmt: skip
    np.savez(path, **header_only, **{f"w{i:03d}": a for i, a in enumerate(arrays)})
    with pytest.raises(InputError, match="not a vidstyle painter"):
        Painter.load(path)
