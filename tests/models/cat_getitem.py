"""cat (inputs and output share one observer instance) and getitem (output shares its input's
observer). Modeled on PyTorch's test_cat and test_getitem.
Goldens: /usr/bin/python3 tools/gen_goldens.py --only cat_ (and --only getitem)
"""
import torch
import torch.nn as nn


class Cat(nn.Module):
    def forward(self, x, y):
        return torch.cat([x, y], 1)


class ConvCat(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 2, 2)
        self.conv2 = nn.Conv2d(2, 2, 2)

    def forward(self, x, y):
        x = self.conv1(x)
        y = self.conv2(y)
        z = torch.cat([x, y], dim=1)
        return torch.cat((z, z), dim=0)


class GetItem(nn.Module):
    def forward(self, xs):
        x = xs[0]
        return x


class SplitGetItem(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 1)

    def forward(self, x):
        x = self.conv(x)
        parts = torch.split(x, 2, dim=1)
        return parts[0] + parts[1]


def cat():
    return Cat()


def conv_cat():
    return ConvCat()


def getitem():
    return GetItem()


def split_getitem():
    return SplitGetItem()



CASES = [
    {"id": "cat_inputs", "factory": "cat", "inputs": ["1,2,5,5", "1,2,5,5"],
     "mirrors": "test_cat"},
    {"id": "cat_conv", "factory": "conv_cat", "inputs": ["1,2,5,5", "1,2,5,5"],
     "mirrors": "test_cat"},
    {"id": "getitem", "factory": "getitem", "inputs": ["1,2"],
     "mirrors": "test_getitem"},
    {"id": "getitem_split", "factory": "split_getitem", "inputs": ["1,2,4,4"],
     "mirrors": "test_getitem"},
]
