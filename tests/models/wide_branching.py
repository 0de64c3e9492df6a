"""Wide branching graph with cat and shared values (issue 6's second generated shape).

A stem Linear feeds W parallel branches (Linear -> ReLU each); every branch output is used twice:
once by the `cat` that joins the stage and once by a residual add with its neighbour, so values
have several consumers (observer sharing across consumers) and cat's inputs share one observer
instance in prepare_fx. S stages are stacked; each stage ends with a Linear projecting the cat
back to the width.

Export:
  /usr/bin/python3 tools/export_fx.py --model tests/models/wide_branching.py:wide_branching_8x16 \
      --input-shape 1,32 -o wide.qg
"""
import torch
import torch.nn as nn

WIDTH = 32


class Stage(nn.Module):
    def __init__(self, branches, width=WIDTH):
        super().__init__()
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Linear(width, width), nn.ReLU()) for _ in range(branches)])
        self.proj = nn.Linear(width * branches, width)

    def forward(self, x):
        outs = [b(x) for b in self.branches]
        mixed = [outs[i] + outs[(i + 1) % len(outs)] for i in range(len(outs))]
        y = self.proj(torch.cat(outs, dim=1))
        return y + torch.stack(mixed, dim=0).sum(dim=0)


class WideBranching(nn.Module):
    def __init__(self, branches, stages, width=WIDTH):
        super().__init__()
        self.stem = nn.Linear(width, width)
        self.stages = nn.ModuleList([Stage(branches, width) for _ in range(stages)])

    def forward(self, x):
        x = self.stem(x)
        for s in self.stages:
            x = s(x)
        return x


def wide_branching(branches=8, stages=4):
    return WideBranching(branches, stages)


def wide_branching_8x16():
    return WideBranching(8, 16)


def wide_branching_16x32():
    return WideBranching(16, 32)


def wide_branching_3x2():
    """The small export bench/prepare/data/wide_branching_3x2.qg checks the C++ generator with."""
    return WideBranching(3, 2)
