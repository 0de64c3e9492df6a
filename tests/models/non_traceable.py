"""Non-traceable modules (PrepareCustomConfig.set_non_traceable_module_names / _classes): FX
cannot trace their forward (data-dependent control flow), so QuantizationTracer keeps them as
leaf call_module nodes; prepare matches no pattern there and observes around them as around any
fp32 op. tools/export_fx.py traces them as leaves too (it builds the tracer from the same
PrepareCustomConfig), so the .qg has the same leaf. Modeled on PyTorch's
test_non_traceable_module.
Goldens: /usr/bin/python3 tools/gen_goldens.py --only non_traceable
"""
import torch
import torch.nn as nn
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig


class Untraceable(nn.Module):
    """`if x.sum() > 0` on a Proxy raises TraceError: only a leaf can stand for it."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.linear(x)
        return self.linear(-x)


class WithUntraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.by_name = Untraceable()
        self.fc2 = nn.Linear(4, 4)
        self.by_class = Untraceable()

    def forward(self, x):
        x = self.fc1(x)
        x = self.by_name(x)
        x = self.fc2(x)
        x = self.by_class(x)
        return torch.sigmoid(x)


def with_untraceable():
    return WithUntraceable()


def pcc_non_traceable():
    # by_name by name; every Untraceable (by_class) by class.
    return (PrepareCustomConfig().set_non_traceable_module_names(["by_name"])
            .set_non_traceable_module_classes([Untraceable]))


def pcc_non_traceable_names():
    return PrepareCustomConfig().set_non_traceable_module_names(["by_name", "by_class"])


CASES = [
    {"id": "non_traceable_module", "factory": "with_untraceable", "inputs": ["2,4"],
     "prepare_custom_config": "pcc_non_traceable", "mirrors": "test_non_traceable_module",
     "notes": "by_name (by name) and by_class (by class) are leaves; fc1, fc2, sigmoid observed"},
    {"id": "non_traceable_module_names", "graph": "non_traceable_module",
     "factory": "with_untraceable", "inputs": ["2,4"],
     "prepare_custom_config": "pcc_non_traceable_names",
     "notes": "both leaves by name: the same graph as non_traceable_module"},
]
