"""Each QConfigMapping level, including None ("leave fp32"): global < object_type <
module_name_regex < module_name < module_name_object_type_order. Modeled on PyTorch's
test_qconfig_precedence and test_qconfig_module_name_object_type_order; each case sets one level
so a wrong priority shows as a different placement.
Goldens: /usr/bin/python3 tools/gen_goldens.py --only qconfig_
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.ao.quantization import (QConfig, QConfigMapping, default_qconfig,
                                   default_per_channel_weight_observer, get_default_qconfig)
from torch.ao.quantization.observer import HistogramObserver, MinMaxObserver

GLOBAL = default_qconfig  # MinMaxObserver activations
OBJECT_TYPE = get_default_qconfig("fbgemm")  # HistogramObserver(reduce_range=True)
REGEX = QConfig(activation=MinMaxObserver.with_args(dtype=torch.quint8, quant_min=0,
                                                    quant_max=255),
                weight=default_per_channel_weight_observer)
NAME = QConfig(activation=HistogramObserver.with_args(reduce_range=False, bins=1024),
               weight=default_per_channel_weight_observer)


class Sub(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        x = self.conv(x)
        x = x + 1.0
        return self.linear(x)


class Levels(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.module_conv1 = nn.Conv2d(1, 1, 1)
        self.module_conv2 = nn.Conv2d(1, 1, 1)
        self.sub = Sub()
        self.fc = nn.Linear(1, 1)

    def forward(self, x):
        x = self.conv(x)
        x = self.module_conv1(x)
        x = self.module_conv2(x)
        x = self.sub(x)
        x = torch.add(x, x)
        x = torch.add(x, x)
        return self.fc(x)


class ConvFReLU(nn.Module):
    """conv + F.relu fuse into ConvReLU2d; object_type qconfigs for Conv2d and ReLU differ."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return F.relu(self.conv(x))


class M1(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(1, 1)
        self.fc2 = nn.Linear(1, 1)

    def forward(self, x):
        x = self.fc1(x)
        x = self.fc2(x)
        x = torch.add(x, x)
        x = torch.add(x, x)
        return x


class M2(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(1, 1)
        self.fc2 = nn.Linear(1, 1)
        self.m1 = M1()

    def forward(self, x):
        x = self.fc1(x)
        x = self.fc2(x)
        x = torch.add(x, x)
        x = torch.add(x, x)
        x = self.m1(x)
        return x


def conv_f_relu():
    return ConvFReLU()


def levels():
    return Levels()


def object_type_order_model():
    return M2()


def global_only():
    return QConfigMapping().set_global(GLOBAL)


def object_type():
    return (QConfigMapping().set_global(GLOBAL).set_object_type(nn.Conv2d, OBJECT_TYPE)
            .set_object_type(torch.add, OBJECT_TYPE))


def regex():
    return object_type().set_module_name_regex("module_conv*", REGEX)


def module_name():
    return regex().set_module_name("module_conv2", NAME).set_module_name("sub", NAME)


def none_levels():
    """None at several levels: global quantized, the 'sub' module fp32, Linear fp32 by type."""
    return (QConfigMapping().set_global(GLOBAL).set_module_name("sub", None)
            .set_object_type(nn.Linear, None))


def global_none():
    return QConfigMapping().set_global(None).set_module_name("module_conv1", GLOBAL)


def object_type_order():
    return (QConfigMapping().set_global(None)
            .set_module_name_object_type_order("", nn.Linear, 0, GLOBAL)
            .set_module_name_object_type_order("", torch.add, 1, GLOBAL)
            .set_module_name_object_type_order("m1", nn.Linear, 1, GLOBAL)
            .set_module_name_object_type_order("m1", torch.add, 0, GLOBAL))


_LEVELS = ["global_only", "object_type", "regex", "module_name", "none_levels", "global_none"]

CASES = [
    {"id": f"qconfig_{name}", "graph": "qconfig_levels", "factory": "levels",
     "inputs": ["1,1,1,1"], "qconfig_mapping": name, "mirrors": "test_qconfig_precedence"}
    for name in _LEVELS
] + [
    {"id": "qconfig_fused_mismatch_error", "factory": "conv_f_relu", "inputs": ["1,1,2,2"],
     "qconfig_mapping": "object_type", "expect_error": True,
     "mirrors": "fused module qconfig (PYTORCH_PREPARE.md item 2)",
     "notes": "fused ConvReLU2d children with different object_type qconfigs: LookupError"},
    {"id": "qconfig_object_type_order", "factory": "object_type_order_model", "inputs": ["1,1"],
     "qconfig_mapping": "object_type_order",
     "mirrors": "test_qconfig_module_name_object_type_order"},
]
