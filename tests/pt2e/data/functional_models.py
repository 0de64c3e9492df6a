"""Small models for the PT2E tests on functional graphs (tools/export_fx.py --functional).

Each factory's graph is committed as tests/pt2e/data/<factory>.qg (and <factory>.train.qg for
the QAT case); regenerate them with `sh tests/pt2e/data/gen_functional.sh`. The expected
placements in tests/pt2e/pt2e_test.cc are derived by hand from PyTorch 2.x's XNNPACKQuantizer
and pt2e/prepare.py, not generated.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBnLinear(nn.Module):
    """conv-bn-relu (conv_relu after folding), conv-bn with a conv bias (conv), adaptive pool,
    flatten, linear-relu with a bias (linear_relu), linear without a bias (linear)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.bn2 = nn.BatchNorm2d(4)
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3, bias=False)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(x))
        y = F.adaptive_avg_pool2d(y, 1)
        y = torch.flatten(y, 1)
        y = F.relu(self.fc1(y))
        return self.fc2(y)


class CatPool(nn.Module):
    """An inception-like block: conv-bn-relu -> max pool and conv -> ReLU6, concatenated."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 4, 1, bias=False)
        self.bn_a = nn.BatchNorm2d(4)
        self.relu_a = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.conv_b = nn.Conv2d(3, 4, 1)
        self.relu6 = nn.ReLU6()

    def forward(self, x):
        a = self.relu_a(self.bn_a(self.conv_a(x)))
        p = self.pool(a)
        b = self.relu6(self.conv_b(x))
        return torch.cat([p, b], 1)


class AddRelu(nn.Module):
    """Adds followed by relus of different sources: nn.ReLU, torch.relu, F.relu."""

    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU()

    def forward(self, x, y):
        a = self.relu(x + y)
        b = torch.relu(a + y)
        return F.relu(torch.add(b, a))


class BiasedConvPool(nn.Module):
    """Convs with biases around an avg_pool2d: the team quantizer demo of docs/backend-guide.md
    (tests/pt2e/data/team_quantizer.qr)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = F.avg_pool2d(x, 2)
        return self.conv2(x)


class TiedWeights(nn.Module):
    """One conv module called twice (one get_attr per parameter, two conv calls) and one linear
    read by two relus: XNNPACK's _is_annotated(partition) on shared partition nodes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        a = self.conv(x)
        b = self.relu(self.conv(a))
        h = self.fc(b.mean((2, 3)))
        return F.relu(h) + F.relu(h)


def tied_weights():
    return TiedWeights()


def biased_conv_pool():
    return BiasedConvPool()


def conv_bn_linear():
    return ConvBnLinear()


def cat_pool():
    return CatPool()


def add_relu():
    return AddRelu()
