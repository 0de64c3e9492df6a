"""A small hand-readable model for the committed example examples/tiny.qg.

conv -> bn -> relu -> add with a scalar -> maxpool -> flatten -> linear, plus a size/view pair
so the graph shows a non-tensor value. Export with:
  /usr/bin/python3 tools/export_fx.py --model tests/models/tiny.py:tiny --input-shape 1,3,8,8 \
      -o examples/tiny.qg --summary examples/tiny.summary.json
"""
import torch
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        x = x + 1.0
        x = self.pool(x)
        x = torch.flatten(x, 1)
        x = x.view(x.size(0), -1)
        return self.fc(x)


def tiny():
    return Tiny()
