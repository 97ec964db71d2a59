import numpy as np
import pytest
import torch

from sparsegrain import encode
from sparsegrain.hardware.layers import Layer, random_activations


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
    lay = Layer(w, x, stride=stride, padding=padding).prepare()
    y = lay.fold(lay.columns().astype(np.float64) @ lay.matrix().T.astype(np.float64))
    np.testing.assert_allclose(y, lay.reference(), atol=1e-5)
    assert y.shape == tuple(torch.conv2d(x, w, stride=stride, padding=padding).shape)


def test_conv1d_and_unbatched_shapes():
    w = torch.randn(6, 3, 5)
    lay = Layer(w, torch.randn(3, 20), padding=2).prepare()
    ref = torch.conv1d(torch.from_numpy(lay.x[:, :, 0, 2:-2]).double(), w.double(), padding=2)[0]
    np.testing.assert_allclose(lay.reference(), ref.numpy(), atol=1e-9)
    assert lay.user_shape == (6, 20)
    assert Layer(torch.randn(4, 9), None).prepare().user_shape == (4,)


def test_bad_inputs_are_clear():
    with pytest.raises(ValueError, match="C_in=4"):
        Layer(torch.randn(5, 4, 3, 3), torch.randn(3, 8, 8)).prepare()
    with pytest.raises(ValueError, match="empty output"):
        Layer(torch.randn(5, 4, 3, 3), torch.randn(4, 2, 2)).prepare()
    with pytest.raises(ValueError, match="9 inputs"):
        Layer(torch.randn(5, 9), torch.randn(8)).prepare()
    with pytest.raises(ValueError, match="input_size"):
        Layer(torch.randn(5, 4, 3, 3), None).prepare()


def test_a_layer_takes_an_encoded_weight_and_checks_its_fields():
    w = torch.randn(6, 10) * (torch.rand(6, 10) < 0.5)
    lay = Layer(encode(w, "csr"), torch.randn(10))
    assert lay.encoded is not None and lay.kind == "fc" and lay.shape == (6, 10)
    np.testing.assert_array_equal(lay.prepare().weight, w.numpy())
    with pytest.raises(ValueError, match="unknown layer kind"):
        Layer(w, kind="attention")
    with pytest.raises(ValueError, match="a conv layer cannot have a weight of shape"):
        Layer(w, kind="conv")
    with pytest.raises(ValueError, match="weight must be a torch.Tensor"):
        Layer([[1.0]])
