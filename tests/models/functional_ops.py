"""Functional linear / conv with get_attr weights (plain tensor attributes, so the tracer makes
get_attr nodes and prepare observes weight and bias as graph values). Modeled on PyTorch's
test_functional_linear and test_functional_conv (static, dynamic and fp16 qconfigs).
Goldens: /usr/bin/python3 tools/gen_goldens.py --only functional
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.ao.quantization import (QConfigMapping, default_dynamic_qconfig, default_qconfig,
                                   float16_static_qconfig)


class FuncLinear(nn.Module):
    def __init__(self, use_bias=True, has_relu=False, f_relu=False):
        super().__init__()
        self.w = torch.randn(4, 30)
        self.b = torch.randn(4) if use_bias else None
        self.relu = nn.ReLU() if has_relu and not f_relu else None
        self.f_relu = has_relu and f_relu

    def forward(self, x):
        x = F.linear(x, self.w, self.b)
        if self.relu is not None:
            x = self.relu(x)
        elif self.f_relu:
            x = F.relu(x)
        return x


class FuncConv(nn.Module):
    def __init__(self, use_bias=True, has_relu=False):
        super().__init__()
        self.w = torch.randn(3, 3, 3, 3)
        self.b = torch.randn(3) if use_bias else None
        self.stride = (1, 1)
        self.padding = (0, 0)
        self.dilation = (1, 1)
        self.groups = 1
        self.has_relu = has_relu

    def forward(self, x):
        x = F.conv2d(x, self.w, self.b, self.stride, self.padding, self.dilation, self.groups)
        if self.has_relu:
            x = F.relu(x)
        return x


def linear():
    return FuncLinear()


def linear_nobias():
    return FuncLinear(use_bias=False)


def linear_relu_module():
    return FuncLinear(has_relu=True)


def linear_relu_functional():
    return FuncLinear(has_relu=True, f_relu=True)


def conv():
    return FuncConv()


def conv_relu():
    return FuncConv(has_relu=True)


def static_mapping():
    return QConfigMapping().set_global(default_qconfig)


def dynamic_mapping():
    return QConfigMapping().set_global(default_dynamic_qconfig)


def fp16_mapping():
    return QConfigMapping().set_global(float16_static_qconfig)



CASES = [
    {"id": "functional_linear", "factory": "linear", "inputs": ["2,30"],
     "qconfig_mapping": "static_mapping", "mirrors": "test_functional_linear"},
    {"id": "functional_linear_nobias", "factory": "linear_nobias", "inputs": ["2,30"],
     "qconfig_mapping": "static_mapping", "mirrors": "test_functional_linear"},
    {"id": "functional_linear_relu_module", "factory": "linear_relu_module", "inputs": ["2,30"],
     "qconfig_mapping": "static_mapping", "mirrors": "test_functional_linear"},
    {"id": "functional_linear_relu_functional", "factory": "linear_relu_functional",
     "inputs": ["2,30"], "mirrors": "test_functional_linear"},
    {"id": "functional_linear_dynamic", "graph": "functional_linear", "factory": "linear",
     "inputs": ["2,30"], "qconfig_mapping": "dynamic_mapping", "mirrors": "test_functional_linear"},
    {"id": "functional_linear_fp16", "graph": "functional_linear", "factory": "linear",
     "inputs": ["2,30"], "qconfig_mapping": "fp16_mapping", "mirrors": "test_functional_linear"},
    {"id": "functional_conv", "factory": "conv", "inputs": ["1,3,5,5"],
     "qconfig_mapping": "static_mapping", "mirrors": "test_functional_conv"},
    {"id": "functional_conv_relu", "factory": "conv_relu", "inputs": ["1,3,5,5"],
     "mirrors": "test_functional_conv"},
]
