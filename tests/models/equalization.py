"""Input-weight equalization (prepare_fx's `_equalization_config`, fx/_equalize.py): each
equalizable node (nn.Linear / nn.Conv*d, the fused LinearReLU / ConvReLU*d, F.linear /
F.conv*d) that is quantized and not on a quantized branch gets an _InputEqualizationObserver on
each activation argument and a _WeightEqualizationObserver on its weight argument, after its
ordinary input observers. Modeled on PyTorch's test/quantization/fx/test_equalize_fx.py
(test_input_weight_equalization_prepare, test_input_weight_equalization_branching).
Goldens: /usr/bin/python3 tools/gen_goldens.py --only equalization
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.ao.quantization import QConfigMapping, get_default_qconfig_mapping
from torch.ao.quantization.fx._equalize import (EqualizationQConfig, _InputEqualizationObserver,
                                                _WeightEqualizationObserver,
                                                default_equalization_qconfig)


class LinearChain(nn.Module):
    """fc1 + F.relu fuse into LinearReLU; fc2; F.linear with its weight and bias attributes."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 4)
        self.w = nn.Parameter(torch.randn(4, 4))
        self.b = nn.Parameter(torch.randn(4))

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.linear(x, self.w, self.b)


class FunctionalLinear(nn.Module):
    """Two F.linear calls (weight by position, bias by keyword) around a relu."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(4, 4))
        self.b1 = nn.Parameter(torch.randn(4))
        self.w2 = nn.Parameter(torch.randn(3, 4))

    def forward(self, x):
        x = F.linear(x, self.w1, bias=self.b1)
        x = torch.relu(x)
        return F.linear(x, self.w2)


class ConvReLU(nn.Module):
    """conv + nn.ReLU fuse into ConvReLU2d; conv1d-free 2d chain with a functional conv."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 2, 1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(2, 2, 1)
        self.w = nn.Parameter(torch.randn(2, 2, 1, 1))

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.conv2(x)
        return F.conv2d(x, self.w)


class Branch(nn.Module):
    """fc1's output feeds fc2 and fc3: both are on a quantized branch and are not equalized
    (PyTorch warns); fc1 and fc4 are."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 4)
        self.fc3 = nn.Linear(4, 4)
        self.fc4 = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc1(x)
        return self.fc4(self.fc2(y) + self.fc3(y))


class BranchFloat(nn.Module):
    """x feeds fc1 and fc2; fc2's qconfig is None, so fc1 is not on a *quantized* branch and is
    equalized. fc3 has no equalization qconfig (module_name None in the equalization mapping)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 4)
        self.fc3 = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc3(self.fc1(x)) + self.fc2(x)


def linear_chain():
    return LinearChain()


def functional_linear():
    return FunctionalLinear()


def conv_relu():
    return ConvReLU()


def branch():
    return Branch()


def branch_float():
    return BranchFloat()


def default_equalization():
    return QConfigMapping().set_global(default_equalization_qconfig)


# An equalization mapping with levels: a custom qconfig for F.linear (object_type), none for fc3
# (module_name).
CUSTOM_EQ = EqualizationQConfig(
    input_activation=_InputEqualizationObserver.with_args(dtype=torch.quint8,
                                                          qscheme=torch.per_tensor_affine),
    weight=_WeightEqualizationObserver.with_args(dtype=torch.qint8,
                                                 qscheme=torch.per_channel_affine))


def equalization_levels():
    return (QConfigMapping().set_global(default_equalization_qconfig)
            .set_object_type(F.linear, CUSTOM_EQ)
            .set_module_name("fc3", None))


def fc2_float():
    return get_default_qconfig_mapping("fbgemm").set_module_name("fc2", None)


CASES = [
    {"id": "equalization_linear_chain", "factory": "linear_chain", "inputs": ["2,4"],
     "equalization_config": "default_equalization",
     "mirrors": "test_input_weight_equalization_prepare"},
    {"id": "equalization_functional_linear", "factory": "functional_linear", "inputs": ["2,4"],
     "equalization_config": "equalization_levels",
     "mirrors": "test_input_weight_equalization_prepare (functional linear)",
     "notes": "F.linear has an object_type equalization qconfig of its own"},
    {"id": "equalization_conv_relu", "factory": "conv_relu", "inputs": ["1,2,4,4"],
     "equalization_config": "default_equalization",
     "mirrors": "test_input_weight_equalization_prepare (conv, fused ConvReLU2d)"},
    {"id": "equalization_branch", "factory": "branch", "inputs": ["2,4"],
     "equalization_config": "default_equalization",
     "mirrors": "test_input_weight_equalization_branching",
     "notes": "fc2 and fc3 share fc1's output: not equalized (is_quantized_branch)"},
    {"id": "equalization_branch_float", "factory": "branch_float", "inputs": ["2,4"],
     "qconfig_mapping": "fc2_float", "equalization_config": "equalization_levels",
     "notes": "fc2's qconfig is None: fc1 is equalized; fc3's equalization qconfig is None"},
]


def quantized_input():
    from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
    return PrepareCustomConfig().set_input_quantized_indexes([0])


CASES.append(
    {"id": "equalization_quantized_input", "factory": "linear_chain", "inputs": ["2,4"],
     "prepare_custom_config": "quantized_input", "equalization_config": "default_equalization",
     "notes": "x is quantized already: no input observer, the equalization observer reads x "
              "itself (x_equalization_process_0)"})
