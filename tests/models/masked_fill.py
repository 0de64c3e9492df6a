"""Non-tensor and boolean arguments are never observed: masked_fill's mask is bool, its value a
scalar. Modeled on PyTorch's test_masked_fill_nontensor_args_not_observed and
test_boolean_tensor.
Goldens: /usr/bin/python3 tools/gen_goldens.py --only masked_fill
"""
import torch.nn as nn


class MaskedFill(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x, mask):
        x = self.linear(x)
        x = x.masked_fill(mask, 1.0)
        y = x.masked_fill(x > 0.5, 0.0)
        return self.linear(y)


class BooleanTensor(nn.Module):
    def forward(self, x, mask):
        mask = mask.unsqueeze(0)
        mask = mask.unsqueeze(1)
        x = x.masked_fill(mask, 1)
        return x


def masked_fill():
    return MaskedFill()


def boolean_tensor():
    return BooleanTensor()



CASES = [
    {"id": "masked_fill_nontensor_args", "factory": "masked_fill",
     "inputs": ["2,4", "bool:2,4"],
     "mirrors": "test_masked_fill_nontensor_args_not_observed"},
    {"id": "masked_fill_boolean_tensor", "factory": "boolean_tensor",
     "inputs": ["1,2,3,4", "bool:3,4"],
     "mirrors": "test_boolean_tensor"},
]
