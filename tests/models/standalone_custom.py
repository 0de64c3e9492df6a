"""Standalone modules (prepared separately; the parent observes only the inputs the child
declares quantized and never its output) and custom module classes (leaves observed like
ordinary ops). Modeled on PyTorch's test_standalone_module_float_interface,
test_standalone_module_quantized_interface and test_custom_module_class. The references hold the
*parent* graph's placement; the standalone child's own observers live inside the child module.
Goldens: /usr/bin/python3 tools/gen_goldens.py --only standalone (and --only custom_module)
"""
import torch
import torch.nn as nn
from torch.ao.quantization import QConfigMapping, default_qconfig
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig


class StandaloneModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.conv(x)


class WithStandalone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.standalone = StandaloneModule()

    def forward(self, x):
        x = self.conv(x)
        x = self.standalone(x)
        return x


class CustomModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)

    def forward(self, x):
        return self.linear(x)


class ObservedCustomModule(nn.Module):
    def __init__(self, linear):
        super().__init__()
        self.linear = linear

    def forward(self, x):
        return self.linear(x)

    @classmethod
    def from_float(cls, float_module):
        assert hasattr(float_module, "qconfig")
        observed = cls(float_module.linear)
        observed.qconfig = float_module.qconfig
        return observed


class WithCustom(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.custom = CustomModule()

    def forward(self, x):
        x = self.conv(x)
        x = self.custom(x)
        return x


def with_standalone():
    return WithStandalone()


def with_custom():
    return WithCustom()


def default_mapping():
    return QConfigMapping().set_global(default_qconfig)


def _standalone_pcc(input_idxs, output_idxs):
    child = (PrepareCustomConfig().set_input_quantized_indexes(input_idxs)
             .set_output_quantized_indexes(output_idxs))
    return PrepareCustomConfig().set_standalone_module_name(
        "standalone", None, (torch.randn(1, 1, 5, 5),), child, None)


def pcc_standalone_float():
    return _standalone_pcc([], [])


def pcc_standalone_quantized():
    return _standalone_pcc([0], [0])


def pcc_custom():
    return PrepareCustomConfig().set_float_to_observed_mapping(CustomModule, ObservedCustomModule)


CASES = [
    {"id": "standalone_float_interface", "graph": "standalone_module", "factory": "with_standalone",
     "inputs": ["1,1,5,5"], "qconfig_mapping": "default_mapping",
     "prepare_custom_config": "pcc_standalone_float",
     "mirrors": "test_standalone_module_float_interface"},
    {"id": "standalone_quantized_interface", "graph": "standalone_module",
     "factory": "with_standalone", "inputs": ["1,1,5,5"], "qconfig_mapping": "default_mapping",
     "prepare_custom_config": "pcc_standalone_quantized",
     "mirrors": "test_standalone_module_quantized_interface"},
    {"id": "custom_module_class", "factory": "with_custom", "inputs": ["1,1,3,3"],
     "qconfig_mapping": "default_mapping", "prepare_custom_config": "pcc_custom",
     "mirrors": "test_custom_module_class"},
]
