"""The ResNets built without torchvision are torchvision's: the same parameters, the same
initial values for a seed (so training is unchanged), the same outputs."""

import pytest
import torch
from torchvision import models

from mxqc.learn.cnn import build_network
from mxqc.learn.resnet import ResNet


@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50"])
def test_the_network_is_torchvisions_parameter_for_parameter(arch):
    torch.manual_seed(0)
    ours = ResNet(arch).eval()
    torch.manual_seed(0)
    theirs = getattr(models, arch)(weights=None).eval()
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(reference)
    assert all(torch.equal(mine[k], reference[k]) for k in mine)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_the_scan_network_takes_torchvisions_weights():
    theirs = models.resnet18(weights=None)
    state = {k: v for k, v in theirs.state_dict().items() if not k.startswith(("fc", "conv1"))}
    net = build_network("resnet18")
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert unexpected == [] and {k.split(".")[0] for k in missing} == {"conv1", "fc"}
