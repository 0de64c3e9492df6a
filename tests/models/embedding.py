"""Embedding with a weight-only qconfig (float_qparams_weight_only_qconfig): the weight observer
lives in the module, so no activation observers go into the graph; next to a quantized linear.
Modeled on PyTorch's test_embedding.
Goldens: /usr/bin/python3 tools/gen_goldens.py --only embedding
"""
import torch.nn as nn
from torch.ao.quantization import (QConfigMapping, default_qconfig,
                                   float_qparams_weight_only_qconfig)


class Embedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(num_embeddings=10, embedding_dim=12)

    def forward(self, indices):
        return self.emb(indices)


class EmbeddingLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(num_embeddings=10, embedding_dim=12)
        self.fc = nn.Linear(12, 4)

    def forward(self, indices):
        return self.fc(self.emb(indices))


def embedding():
    return Embedding()


def embedding_linear():
    return EmbeddingLinear()


def weight_only_mapping():
    return QConfigMapping().set_global(float_qparams_weight_only_qconfig)


def mixed_mapping():
    return (QConfigMapping().set_global(default_qconfig)
            .set_object_type(nn.Embedding, float_qparams_weight_only_qconfig))


CASES = [
    {"id": "embedding", "factory": "embedding", "inputs": ["int64:32"],
     "qconfig_mapping": "weight_only_mapping", "mirrors": "test_embedding"},
    {"id": "embedding_linear", "factory": "embedding_linear", "inputs": ["int64:32"],
     "qconfig_mapping": "mixed_mapping", "mirrors": "test_embedding"},
]
