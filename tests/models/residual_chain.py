"""Residual chain of N blocks, the growth benchmark of issue 6 (bench/compare_torch.py).

Each block is Linear -> ReLU -> Linear -> sigmoid -> add with the block's input, written the way a
PyTorch model would (modules in an nn.ModuleList, torch.sigmoid and `+` as functions), so the
traced graph has 5 nodes per block plus placeholder and output. PyTorch 1.13's prepare_fx cost
grows faster than linearly in N on this model; qprep's should not.

Export (same trace as prepare_fx):
  /usr/bin/python3 tools/export_fx.py --model tests/models/residual_chain.py:residual_chain_400 \
      --input-shape 1,64 -o chain400.qg
`residual_chain(n)` builds any size; residual_chain_{50,100,200,400} are the factories the
command line uses (it takes FILE.py:FACTORY without arguments).
"""
import torch
import torch.nn as nn

WIDTH = 64


class Block(nn.Module):
    def __init__(self, width=WIDTH):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(width, width)

    def forward(self, x):
        y = self.fc2(self.relu(self.fc1(x)))
        return torch.sigmoid(y) + x


class ResidualChain(nn.Module):
    def __init__(self, n, width=WIDTH):
        super().__init__()
        self.blocks = nn.ModuleList([Block(width) for _ in range(n)])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


def residual_chain(n=50):
    return ResidualChain(n)


def residual_chain_50():
    return ResidualChain(50)


def residual_chain_100():
    return ResidualChain(100)


def residual_chain_200():
    return ResidualChain(200)


def residual_chain_400():
    return ResidualChain(400)


def residual_chain_3():
    """The small export bench/prepare/data/residual_chain_3.qg checks the C++ generator with."""
    return ResidualChain(3)
