"""add / mul with scalars and with two tensors, in-place and functional forms. The number of
tensor arguments decides the observation (PYTORCH_PREPARE.md item 6): with one tensor (x + 3)
the output shares the input's observer; with two tensors the op gets its own. Modeled on
PyTorch's test_quantize_fx.py binary-op tests (test_add / test_mul with scalars, test_add_relu).
Goldens: /usr/bin/python3 tools/gen_goldens.py --only binary
"""
import operator

import torch
import torch.nn as nn


class BinaryScalars(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        x = self.conv(x)
        x = x + 3
        x = x * 3.0
        x = 2 + x
        x += 1
        x *= 0.5
        x = torch.add(x, 2)
        x = torch.mul(x, 4)
        return x


class BinaryTensors(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 1)
        self.conv2 = nn.Conv2d(1, 1, 1)
        self.relu = nn.ReLU()

    def forward(self, x, y):
        a = self.conv1(x)
        b = self.conv2(y)
        s = a + b
        s = self.relu(s)
        p = torch.mul(s, b)
        q = torch.add(p, a)
        q = torch.relu(q)
        return operator.mul(q, x)


def scalars():
    return BinaryScalars()


def tensors():
    return BinaryTensors()



CASES = [
    {"id": "binary_scalars", "factory": "scalars", "inputs": ["1,1,3,3"],
     "mirrors": "test_add_scalar / test_mul_scalar"},
    {"id": "binary_scalars.qnnpack", "graph": "binary_scalars", "factory": "scalars",
     "inputs": ["1,1,3,3"], "backend": "qnnpack", "mirrors": "test_add_scalar / test_mul_scalar"},
    {"id": "binary_tensors", "factory": "tensors", "inputs": ["1,1,3,3", "1,1,3,3"],
     "mirrors": "test_add / test_mul / test_add_relu"},
]
