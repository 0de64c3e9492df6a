"""Standalone modules by class (PrepareCustomConfig.set_standalone_module_class) and with their
own QConfigMapping / BackendConfig (the `qconfig_mapping` / `backend_config` of
set_standalone_module_name). 1.13's get_standalone_module_configs: an entry by name overrides
one by class; a child without a mapping is prepared with QConfigMapping().set_global(<the
parent's qconfig at the standalone node>) -- not with the parent's mapping -- and a child
without a backend config with the parent's. The parent's own placement depends only on the
child's input_quantized_idxs. The references hold the parent's placement and, under
`standalone_modules`, each child's own.
Goldens: /usr/bin/python3 tools/gen_goldens.py --only standalone_
"""
import torch
import torch.nn as nn
from torch.ao.quantization import QConfigMapping, default_qconfig, get_default_qconfig
from torch.ao.quantization.backend_config import get_qnnpack_backend_config
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig


class Child(nn.Module):
    """conv then linear over the last dimension."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.linear = nn.Linear(5, 5)

    def forward(self, x):
        return self.linear(self.conv(x))


class Parent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.sm1 = Child()
        self.linear = nn.Linear(5, 5)
        self.sm2 = Child()

    def forward(self, x):
        x = self.conv(x)
        x = self.sm1(x)
        x = self.linear(x)
        return self.sm2(x)


def parent():
    return Parent()


EXAMPLE = (torch.randn(1, 1, 5, 5),)


def _child_pcc(inputs, outputs):
    return (PrepareCustomConfig().set_input_quantized_indexes(inputs)
            .set_output_quantized_indexes(outputs))


def default_mapping():
    return QConfigMapping().set_global(default_qconfig)


def linear_none_mapping():
    # The parent leaves nn.Linear fp32; a standalone child without a mapping of its own still
    # quantizes its linear: its mapping is set_global(default_qconfig).
    return QConfigMapping().set_global(default_qconfig).set_object_type(nn.Linear, None)


def pcc_by_class():
    # Every Child is standalone (by class), with quantized input 0 and float output.
    return PrepareCustomConfig().set_standalone_module_class(
        Child, None, EXAMPLE, _child_pcc([0], []), None)


def pcc_name_over_class():
    # By class for both, but sm2 also by name with another interface: the name entry wins.
    return (PrepareCustomConfig()
            .set_standalone_module_class(Child, None, EXAMPLE, _child_pcc([0], []), None)
            .set_standalone_module_name("sm2", None, EXAMPLE, _child_pcc([], [0]), None))


def child_mapping():
    return QConfigMapping().set_global(get_default_qconfig("qnnpack"))


def pcc_own_mapping_and_backend():
    # sm1 with its own mapping (qnnpack's default qconfig) and backend (qnnpack); sm2 with the
    # parent's (None, None).
    return (PrepareCustomConfig()
            .set_standalone_module_name("sm1", child_mapping(), EXAMPLE, _child_pcc([0], [0]),
                                        get_qnnpack_backend_config())
            .set_standalone_module_name("sm2", None, EXAMPLE, _child_pcc([0], [0]), None))


CASES = [
    {"id": "standalone_by_class", "graph": "standalone_configs", "factory": "parent",
     "inputs": ["1,1,5,5"], "qconfig_mapping": "default_mapping",
     "prepare_custom_config": "pcc_by_class", "mirrors": "test_standalone_module (by class)"},
    {"id": "standalone_name_over_class", "graph": "standalone_configs", "factory": "parent",
     "inputs": ["1,1,5,5"], "qconfig_mapping": "default_mapping",
     "prepare_custom_config": "pcc_name_over_class",
     "notes": "sm2 is configured by class and by name: the name entry's interface wins"},
    {"id": "standalone_own_mapping_and_backend", "graph": "standalone_configs",
     "factory": "parent", "inputs": ["1,1,5,5"], "qconfig_mapping": "default_mapping",
     "prepare_custom_config": "pcc_own_mapping_and_backend",
     "notes": "sm1: its own mapping (HistogramObserver, qnnpack's default qconfig) and backend "
              "(qnnpack); sm2: the parent's qconfig as its global"},
    {"id": "standalone_parent_qconfig", "graph": "standalone_configs", "factory": "parent",
     "inputs": ["1,1,5,5"], "qconfig_mapping": "linear_none_mapping",
     "prepare_custom_config": "pcc_by_class",
     "notes": "the parent leaves nn.Linear fp32 (object_type None); the children, prepared with "
              "QConfigMapping().set_global(default_qconfig), quantize theirs"},
]
