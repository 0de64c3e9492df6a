"""Quantized / fp32 graph inputs and outputs (PrepareCustomConfig input_quantized_idxs /
output_quantized_idxs). Modeled on PyTorch's test_quantize_fx.py: test_fp32_input_fp32_output,
test_quantized_input_quantized_output, test_fp32_input_quantized_output,
test_quantized_input_fp32_output (a chain of two 1x1 convs, qconfig default_qconfig), and
test_quant_output_always_observed (an Identity with a quantized output, QAT).
Goldens: /usr/bin/python3 tools/gen_goldens.py --only qio
"""
import torch.nn as nn
from torch.ao.quantization import QConfigMapping, default_qconfig, get_default_qat_qconfig
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig


class ConvChain(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 1)
        self.conv2 = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        x = self.conv1(x)
        x = self.conv2(x)
        return x


class IdentityOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.identity = nn.Identity()

    def forward(self, x):
        return self.identity(x)


def conv_chain():
    return ConvChain()


def identity_out():
    return IdentityOut()


def default_qconfig_mapping():
    return QConfigMapping().set_global(default_qconfig)


def qat_fbgemm_mapping():
    return QConfigMapping().set_global(get_default_qat_qconfig("fbgemm"))


def pcc_none():
    return PrepareCustomConfig()


def pcc_in():
    return PrepareCustomConfig().set_input_quantized_indexes([0])


def pcc_out():
    return PrepareCustomConfig().set_output_quantized_indexes([0])


def pcc_in_out():
    return PrepareCustomConfig().set_input_quantized_indexes([0]).set_output_quantized_indexes([0])


_IO = [("fp32_input_fp32_output", "pcc_none"), ("quantized_input_fp32_output", "pcc_in"),
       ("fp32_input_quantized_output", "pcc_out"),
       ("quantized_input_quantized_output", "pcc_in_out")]

CASES = [
    {"id": f"qio_{name}", "graph": "qio_conv_chain", "factory": "conv_chain",
     "inputs": ["1,1,4,4"], "qconfig_mapping": "default_qconfig_mapping",
     "prepare_custom_config": pcc, "mirrors": f"test_{name}"}
    for name, pcc in _IO
] + [
    {"id": "qio_quant_output_always_observed", "graph": "qio_identity_out.train",
     "factory": "identity_out", "inputs": ["4,1,4,4"], "qat": True,
     "qconfig_mapping": "qat_fbgemm_mapping", "prepare_custom_config": "pcc_out",
     "mirrors": "test_quant_output_always_observed"},
]
