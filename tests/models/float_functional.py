"""torch.nn.quantized.FloatFunctional ops (swapped for FXFloatFunctional before tracing, so they
trace to torch.add / torch.mul / torch.cat ... calls). Modeled on PyTorch's test_float_functional
and test_int8_input_no_unnecessary_fq (QAT, quantized input, add_scalar).
Goldens: /usr/bin/python3 tools/gen_goldens.py --only float_functional
"""
import torch.nn as nn
import torch.nn.quantized as nnq
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig


class FloatFunctionalOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 1)
        self.conv2 = nn.Conv2d(1, 1, 1)
        self.ff_add = nnq.FloatFunctional()
        self.ff_add_scalar = nnq.FloatFunctional()
        self.ff_mul = nnq.FloatFunctional()
        self.ff_mul_scalar = nnq.FloatFunctional()
        self.ff_cat = nnq.FloatFunctional()
        self.ff_add_relu = nnq.FloatFunctional()

    def forward(self, x, y):
        a = self.conv1(x)
        b = self.conv2(y)
        s = self.ff_add.add(a, b)
        s = self.ff_add_scalar.add_scalar(s, 2.0)
        p = self.ff_mul.mul(s, b)
        p = self.ff_mul_scalar.mul_scalar(p, 3.0)
        c = self.ff_cat.cat([p, a], 1)
        return self.ff_add_relu.add_relu(c, c)


class AddScalarFF(nn.Module):
    def __init__(self):
        super().__init__()
        self.add_func = nnq.FloatFunctional()

    def forward(self, x):
        return self.add_func.add_scalar(x, 1.0)


def ops():
    return FloatFunctionalOps()


def add_scalar():
    return AddScalarFF()




def pcc_in():
    return PrepareCustomConfig().set_input_quantized_indexes([0])


CASES = [
    {"id": "float_functional", "factory": "ops", "inputs": ["1,1,3,3", "1,1,3,3"],
     "mirrors": "test_float_functional"},
    {"id": "float_functional_int8_input_qat", "graph": "float_functional_add_scalar.train",
     "factory": "add_scalar", "inputs": ["1,1,1,1"], "qat": True,
     "prepare_custom_config": "pcc_in", "mirrors": "test_int8_input_no_unnecessary_fq"},
]
