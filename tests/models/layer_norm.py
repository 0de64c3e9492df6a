"""Functional layer_norm with weight and bias attributes (as torchvision's convnext LayerNorm2d:
`F.layer_norm(x, shape, self.weight, self.bias, eps)`, which FX records with weight / bias as
keyword arguments). Under the native BackendConfig (also 1.13's onednn), whose layer_norm config
names the weight (index 2), 1.13 observes the weight with the qconfig's weight observer (the
default mapping's layer-norm qconfig: a float PlaceholderObserver): its
get_arg_target_dtype_as_input_to_node returns None for a NON_QUANTIZABLE_WEIGHT_OPS weight, and
None != float inserts. 2.x (the seed) turns None into "no observer" (_needs_obs_or_fq): qprep
follows the seed (docs/parity-notes.md item 6). Under fbgemm 1.13 and 2.x agree (no weight
observer). Found by the torchvision survey (convnext_* with native / onednn / QAT onednn).
Goldens: /usr/bin/python3 tools/gen_goldens.py --only layer_norm
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LinearLayerNormLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 8)
        self.weight = nn.Parameter(torch.ones(8))
        self.bias = nn.Parameter(torch.zeros(8))
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x):
        x = self.fc1(x)
        x = F.layer_norm(x, (8,), self.weight, self.bias, 1e-6)
        return self.fc2(x)


def model():
    return LinearLayerNormLinear()


CASES = [
    {"id": "functional_layer_norm_native", "graph": "functional_layer_norm", "factory": "model",
     "inputs": ["2,8"], "backend": "native",
     "notes": "1.13 observes F.layer_norm's weight (keyword) with a float PlaceholderObserver",
     "differs_from_seed": "1.13 puts the layer-norm qconfig's weight observer (a float "
                          "PlaceholderObserver) on F.layer_norm's weight; the seed inserts "
                          "nothing for a NON_QUANTIZABLE_WEIGHT_OPS weight; see "
                          "docs/parity-notes.md item 6"},
    {"id": "functional_layer_norm_fbgemm", "graph": "functional_layer_norm", "factory": "model",
     "inputs": ["2,8"], "backend": "fbgemm",
     "notes": "fbgemm has no layer_norm config: layer_norm stays fp32, no weight observer "
              "(1.13 and the seed agree)"},
]
