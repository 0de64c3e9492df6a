"""Fixed-qparams ops (sigmoid, hardsigmoid, tanh, softmax) as modules, functions and methods:
their outputs get FixedQParamsObserver instances with the op's fixed scale / zero point.
Modeled on PyTorch's test_fixed_qparams_ops.
Goldens: /usr/bin/python3 tools/gen_goldens.py --only fixed_qparams
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.ao.quantization import QConfigMapping, default_qconfig


class FixedQParamsOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3)
        self.sigmoid = nn.Sigmoid()
        self.hardsigmoid = nn.Hardsigmoid()
        self.tanh = nn.Tanh()
        self.softmax = nn.Softmax(dim=0)

    def forward(self, x):
        x = self.conv(x)
        x = self.sigmoid(x)
        x = torch.sigmoid(x)
        x = x.sigmoid()
        x = self.hardsigmoid(x)
        x = F.hardsigmoid(x)
        x = F.hardsigmoid(x, inplace=True)
        x = self.tanh(x)
        x = torch.tanh(x)
        x = x.tanh()
        x = self.softmax(x)
        return x


class ConvSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3)

    def forward(self, x):
        return torch.sigmoid(self.conv(x))


def model():
    return FixedQParamsOps()


def conv_sigmoid():
    return ConvSigmoid()


def wrong_qconfig_mapping():
    """A MinMaxObserver on sigmoid: not the fixed qparams the backend requires."""
    return QConfigMapping().set_global(default_qconfig)




CASES = [
    {"id": "fixed_qparams", "factory": "model", "inputs": ["1,3,3,3"],
     "mirrors": "test_fixed_qparams_ops"},
    {"id": "fixed_qparams.qat", "graph": "fixed_qparams.train", "factory": "model",
     "inputs": ["1,3,3,3"], "qat": True,
     "mirrors": "test_fixed_qparams_ops"},
    {"id": "fixed_qparams_wrong_qconfig", "factory": "conv_sigmoid", "inputs": ["1,3,3,3"],
     "qconfig_mapping": "wrong_qconfig_mapping", "expect_error": True,
     "mirrors": "test_fixed_qparams_ops (wrong qconfig; PYTORCH_PREPARE.md item 10)",
     "notes": "1.13 raises ValueError; 2.x warns and leaves sigmoid fp32 (follow 2.x)",
     "differs_from_seed": "1.13 raises ValueError; the seed warns, sigmoid stays fp32 and the "
                          "conv is observed; see docs/parity-notes.md item 2"},
]
