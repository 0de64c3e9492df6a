"""General shape ops (outputs share their input's observer), size / view with non-tensor
arguments, and a copy node whose input and output observers are one instance. Modeled on
PyTorch's test_general_shape_ops, test_copy_node_has_shared_actpp_instance, and the
`linear -> view(x.size(0), -1) -> linear` pattern of PyTorch issue #83658 (1.13 leaves the view's
output unobserved; 2.x observes it: see docs/parity-notes.md).
Goldens: /usr/bin/python3 tools/gen_goldens.py --only shape_ops
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class GeneralShapeOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.maxpool1d = nn.MaxPool1d(kernel_size=3)
        self.maxpool2d = nn.MaxPool2d(kernel_size=3)
        self.adaptive_avgpool2d = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout()
        self.conv1 = nn.Conv2d(3, 3, 3)
        self.conv2 = nn.Conv2d(3, 3, 3)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.conv1(x)
        x = self.maxpool2d(x)
        x = F.max_pool2d(x, 2, 2)
        x = self.relu(x)
        x = F.relu(x)
        x = torch.relu(x)
        x = x.relu()
        x = self.dropout(x)
        x = x.contiguous()
        x = torch.flatten(x, 1)
        x = x.reshape([-1])
        x = x.view(1, 1, -1)
        x = self.maxpool1d(x)
        x = F.max_pool1d(x, 1, 1)
        x = x.view(-1)
        x = x.unsqueeze(0)
        x = x.squeeze(0)
        x = torch.unsqueeze(x, 0)
        x = torch.squeeze(x, 0)
        x = x.repeat(4, 2)
        x = x.transpose(0, 1)
        x = torch.transpose(x, 1, 0)
        x = x.permute(0, 1)
        x = x.view(1, 3, 4, -1)
        y = torch.chunk(x, 2, dim=3)
        x = y[0]
        x = self.conv2(x)
        x = self.adaptive_avgpool2d(x)
        x = x.mean([2, 3], True)
        x = x.detach()
        x = torch.clamp(x, 0, 1)
        x = x.clamp(0, 1)
        x = F.hardtanh(x)
        x = x.flatten(1)
        s = x.shape
        x = x.view(s[0], -1)
        return x


class LinearViewLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 5)
        self.fc2 = nn.Linear(5, 5)

    def forward(self, x):
        x = self.fc1(x)
        x = x.view(x.size(0), -1)
        return self.fc2(x)


class CopyNode(nn.Module):
    def __init__(self):
        super().__init__()
        self.avgpool = nn.AvgPool2d(3)

    def forward(self, x):
        return self.avgpool(x)


class Reshape(nn.Module):
    """reshape's default qconfig is ReuseInputObserver in 1.13's default mapping."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = x.reshape(1, -1)
        x = self.conv(x)
        x = x.reshape(1, 3, -1)
        return x, y


def general():
    return GeneralShapeOps()


def linear_view_linear():
    return LinearViewLinear()


def copy_node():
    return CopyNode()


def reshape():
    return Reshape()



CASES = [
    {"id": "shape_ops_general", "factory": "general", "inputs": ["1,3,20,20"],
     "mirrors": "test_general_shape_ops"},
    {"id": "shape_ops_linear_view_linear", "factory": "linear_view_linear", "inputs": ["2,5"],
    
     "mirrors": "PyTorch issue #83658 (view with x.size(0))",
     "notes": "1.13 leaves the view output unobserved (bug #83658); 2.x observes it",
     "differs_from_seed": "1.13 observes only fc2's output (bug #83658); the seed observes x, "
                          "fc1's output, view (sharing fc1's instance) and fc2's output; "
                          "see docs/parity-notes.md item 1"},
    {"id": "shape_ops_copy_node", "factory": "copy_node", "inputs": ["1,3,6,6"],
     "mirrors": "test_copy_node_has_shared_actpp_instance"},
    {"id": "shape_ops_reshape_reuse_input", "factory": "reshape", "inputs": ["1,3,4,4"],
    
     "mirrors": "reshape with default_reuse_input_qconfig (get_default_qconfig_mapping)"},
]
