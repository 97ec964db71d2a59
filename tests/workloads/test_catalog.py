import pytest

from sparsegrain.workloads import get_layer, get_network
from sparsegrain.workloads.catalog import NETWORKS


def test_resnet50_has_its_published_weight_count():
    # torchvision resnet50: 25,557,032 parameters, of which 53,120 BN and 1,000 fc bias
    assert sum(lay.n_weights for lay in get_network("resnet50")) == 25_557_032 - 53_120 - 1_000


def test_vgg16_weight_count_and_fc6_input():
    layers = get_network("vgg16")
    # torchvision vgg16: 138,357,544 parameters including 13,416 biases
    assert sum(lay.n_weights for lay in layers) == 138_357_544 - 13_416
    assert get_layer("vgg16:fc6").in_features == 512 * 7 * 7


def test_conv_output_sizes_follow_stride_and_padding():
    assert get_layer("resnet50:conv1").output_size == (112, 112)
    assert get_layer("resnet50:layer2.0.conv2").output_size == (28, 28)
    assert get_layer("alexnet:conv1").output_size == (55, 55)
    assert get_layer("jasper:prologue").output_size == (200,)


def test_eie_layers_carry_published_densities():
    alex8 = get_layer("eie:Alex-8")
    assert alex8.weight_shape == (1000, 4096)
    assert (alex8.weight_density, alex8.act_density) == (0.25, 0.375)
    assert len(get_network("eie")) == 9


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_network_builds_weights_of_its_shapes(name):
    layer = get_network(name)[0]
    assert tuple(layer.random_weight(0).shape) == layer.weight_shape


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="resnet50"):
        get_network("resnet51")
    with pytest.raises(ValueError, match="layers:"):
        get_layer("eie:Alex-9")
