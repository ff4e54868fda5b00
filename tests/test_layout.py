"""sictl.pipeline.layout: --layout strings, guesses for the authors' files, samples and trajectories."""

from __future__ import annotations

import numpy as np
import pytest

from sictl.errors import ConfigError, ShapeError
from sictl.pipeline.layout import guess_layout, parse_layout, resolve_layout, to_samples, to_trajectories


def test_parse_roles_and_synonyms():
    lay = parse_layout("Walker, sample  x", 3)
    assert lay.roles == ("traj", "sample", "x") and str(lay) == "walker sample x"
    assert lay.batch == (0, 1) and lay.spatial == (2,) and not lay.vector
    assert parse_layout("sample dim").vector and parse_layout("n").vector


@pytest.mark.parametrize("text, ndim, err, needle", [
    ("sample x q", 3, ConfigError, "unknown axis name"),
    ("sample x x", 3, ConfigError, "more than once"),
    ("traj walker x", 3, ConfigError, "more than once"),
    ("sample y", 2, ConfigError, "x; x, y"),
    ("sample x dim", 3, ConfigError, "mixes"),
    ("sample channel dim", 3, ConfigError, "channel axis needs spatial"),
    ("sample x y", 4, ShapeError, "names 3 axes but the array has 4"),
    ("", 1, ConfigError, "empty"),
])
def test_parse_errors(text, ndim, err, needle):
    with pytest.raises(err, match=needle) as info:
        parse_layout(text, ndim)
    assert info.value.hint


def test_guesses_for_the_authors_files_and_common_shapes():
    assert guess_layout((66, 5000, 33), name="AllenCahn1D_grid32_samples.npy") == "walker sample x"
    with pytest.raises(ShapeError, match=r"\(66, S, 33\)"):
        guess_layout((64, 5000, 32), name="AllenCahn1D_grid32_samples.npy")
    assert guess_layout((130, 20, 65)) == "walker sample x"
    assert guess_layout((256, 128, 128)) == "sample x y"  # square fields win over 2(N+1)
    assert guess_layout((200, 100, 128, 128)) == "traj time x y"
    assert guess_layout((50, 2, 64, 64)) == "sample channel x y"
    assert guess_layout((100, 64)) == "sample x"
    assert guess_layout((100, 2)) == "sample dim"
    assert guess_layout((100, 64), prefer="vector") == "sample dim"
    assert guess_layout((1000,)) == "sample"
    with pytest.raises(ShapeError, match="cannot tell the axes") as info:
        guess_layout((3, 4, 5))
    assert "--layout" in info.value.hint
    assert str(resolve_layout((2, 3, 8, 8), None, "traj time x y")) == "traj time x y"
    assert str(resolve_layout((2, 3, 8, 8), "sample channel x y", "traj time x y")) == "sample channel x y"


def test_to_samples_flattens_trajectory_major_and_orders_space():
    a = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    s = to_samples(a, "traj time x y")
    assert s.shape == (6, 1, 4, 5) and np.array_equal(s[4, 0], a[1, 1])
    t = to_samples(a, "traj time y x")  # spatial axes come out in x, y order
    assert t.shape == (6, 1, 5, 4) and np.array_equal(t[4, 0], a[1, 1].T)
    c = to_samples(a, "sample channel x y")
    assert c.shape == (2, 3, 4, 5)
    v = to_samples(a.reshape(6, 20), "sample dim")
    assert v.shape == (6, 20)
    assert to_samples(np.arange(5.0), "sample").shape == (5, 1)
    d = to_samples(a[:, :, :, :4].reshape(6, 4, 4), "sample x y", drop_last_node=True)
    assert d.shape == (6, 1, 3, 3)


def test_to_trajectories_for_both_authors_layouts():
    ac = np.random.default_rng(0).standard_normal((6, 7, 3)).astype(np.float32)  # walkers, samples, N+1
    tr = to_trajectories(ac, "walker sample x", drop_last_node=True)
    assert tr.data.shape == (6, 7, 2) and tr.traj_axis == "walker" and tr.time_axis == "sample"
    assert np.array_equal(tr.data, ac[..., :2])
    ns = np.zeros((2, 5, 4, 4))
    tr = to_trajectories(ns, "traj time x y")
    assert tr.data.shape == (2, 5, 4, 4) and not tr.vector
    iid = to_trajectories(np.zeros((9, 4, 4)), "sample x y")
    assert iid.data.shape == (9, 1, 4, 4) and iid.time_axis is None
    one = to_trajectories(np.zeros((5, 4)), "time x")
    assert one.data.shape == (1, 5, 4)
    vec = to_trajectories(np.zeros((10, 3)), "sample dim")
    assert vec.data.shape == (10, 1, 3) and vec.vector
    scal = to_trajectories(np.zeros(10), "sample")
    assert scal.data.shape == (10, 1, 1)


def test_to_trajectories_channels_and_ambiguity():
    a = np.random.default_rng(1).standard_normal((4, 2, 3, 3))
    with pytest.raises(ShapeError, match="channel axis has 2"):
        to_trajectories(a, "sample channel x y")
    picked = to_trajectories(a, "sample channel x y", channel=1)
    assert np.array_equal(picked.data[:, 0], a[:, 1])
    moved = to_trajectories(np.moveaxis(a, 1, 0), "channel traj x y", channel=0)
    assert np.array_equal(moved.data[:, 0], a[:, 0])
    with pytest.raises(ShapeError, match="out of range"):
        to_trajectories(a, "sample channel x y", channel=2)
    with pytest.raises(ShapeError, match="ambiguous"):
        to_trajectories(np.zeros((2, 2, 2, 4)), "traj time sample x")
