import numpy as np
import pytest
import torch

from sparsegrain.hardware.layers import prepare, random_activations


def test_random_activations_exact_density_and_seeded():
    a = random_activations((3, 7, 5), 0.4, seed=3)
    assert np.count_nonzero(a) == round(0.4 * a.size)
    assert (a >= 0).all()
    assert np.array_equal(a, random_activations((3, 7, 5), 0.4, seed=3))
    assert not np.array_equal(a, random_activations((3, 7, 5), 0.4, seed=4))


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (3, 2)])
def test_lowering_matches_conv(stride, padding):
    w = torch.randn(5, 4, 3, 2)
    x = torch.relu(torch.randn(2, 4, 8, 7))
    lay = prepare(w, x, stride=stride, padding=padding)
    y = lay.fold(lay.columns().astype(np.float64) @ lay.matrix().T.astype(np.float64))
    np.testing.assert_allclose(y, lay.reference(), atol=1e-5)
    assert y.shape == tuple(torch.conv2d(x, w, stride=stride, padding=padding).shape)


def test_conv1d_and_unbatched_shapes():
    w = torch.randn(6, 3, 5)
    lay = prepare(w, torch.randn(3, 20), padding=2)
    ref = torch.conv1d(torch.from_numpy(lay.x[:, :, 0, 2:-2]).double(), w.double(), padding=2)[0]
    np.testing.assert_allclose(lay.reference(), ref.numpy(), atol=1e-9)
    assert lay.user_shape == (6, 20)
    assert prepare(torch.randn(4, 9), None).user_shape == (4,)


def test_bad_inputs_are_clear():
    with pytest.raises(ValueError, match="C_in=4"):
        prepare(torch.randn(5, 4, 3, 3), torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match="empty output"):
        prepare(torch.randn(5, 4, 3, 3), torch.randn(4, 2, 2))
    with pytest.raises(ValueError, match="9 inputs"):
        prepare(torch.randn(5, 9), torch.randn(8))
    with pytest.raises(ValueError, match="input_size"):
        prepare(torch.randn(5, 4, 3, 3), None)
