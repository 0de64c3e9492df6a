#!/usr/bin/python3
"""End-to-end calibration parity with PyTorch 1.13: the golden case of
tests/calibrate/calibrate_cli_test.cc (CalibrateCliTest.MatchesPyTorchEndToEnd).

Prepares a small CNN with prepare_fx (fbgemm BackendConfig; a QConfigMapping whose observers
calibrate exactly: MinMaxObserver / MovingAverageMinMaxObserver activations, PerChannelMinMax
weights, plus sigmoid's FixedQParams), writes PyTorch's placement in the plan shape
(tools/torch_reference.py's canonical_placement), runs N calibration batches through the prepared
model while recording, at every observer node, the tensor it receives as OUT/batches/<observer
node name>/<k>.npy (the layout `qprepc calibrate --data` reads), and writes PyTorch's own
calculate_qparams() per observer instance and per insertion to OUT/expected.json.

    /usr/bin/python3 tools/calibration_parity.py tests/calibrate/data/parity
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_fx  # noqa: E402
import torch_reference  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.ao.quantization as tq  # noqa: E402
from torch.ao.quantization.quantize_fx import prepare_fx  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.conv2 = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        z = self.conv2(y)
        z = z + y
        z = self.pool(z).flatten(1)
        return torch.sigmoid(self.fc(z))


def qconfig_mapping():
    act = tq.MinMaxObserver.with_args(reduce_range=True)
    weight = tq.PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                   qscheme=torch.per_channel_symmetric)
    moving = tq.MovingAverageMinMaxObserver.with_args(averaging_constant=0.1)
    # Only exactly calibrating observers (no HistogramObserver: qprep bins it with float bounds,
    # where 1.13 truncates them, docs/observers.md); sigmoid needs its fixed-qparams observer.
    fixed = tq.QConfig(activation=tq.observer.default_fixed_qparams_range_0to1_observer,
                       weight=tq.default_weight_observer)
    return (tq.QConfigMapping()
            .set_global(tq.QConfig(activation=act, weight=weight))
            .set_object_type(torch.sigmoid, fixed)
            .set_module_name("fc", tq.QConfig(activation=moving, weight=weight)))


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    model = Net().eval()
    example = (torch.randn(1, 3, 8, 8),)
    _, _, gm, _ = export_fx.export(model, example, "parity_cnn", None)
    prepared = prepare_fx(model, qconfig_mapping(), example,
                          backend_config=torch_reference.backend_config_for("fbgemm"))
    observers, insertions, notes = torch_reference.canonical_placement(prepared, gm.graph)
    plan = {"format": torch_reference.FORMAT, "version": 1, "graph": "parity_cnn",
            "backend": "fbgemm", "observers": observers, "insertions": insertions}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "plan.json"), "w") as f:
        f.write(torch_reference.dumps(plan))

    modules = dict(prepared.named_modules(remove_duplicate=False))
    state = {"batch": 0}

    class Recorder(torch.fx.Interpreter):
        def call_module(self, target, args, kwargs):
            if torch_reference.is_observer_module(modules[target]):
                node = self.current_node
                d = os.path.join(out, "batches", node.name)
                os.makedirs(d, exist_ok=True)
                x = args[0].detach().contiguous().float().numpy()
                np.save(os.path.join(d, "%04d.npy" % state["batch"]), x)
            return super().call_module(target, args, kwargs)

        def run_node(self, n):
            self.current_node = n
            return super().run_node(n)

    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for k in range(3):
            state["batch"] = k
            Recorder(prepared).run(torch.randn(2, 3, 8, 8, generator=gen) * (1 + k))

    by_id = {}
    for ins in insertions:
        m = modules[ins["name"]]
        if ins["observer"] in by_id or not hasattr(m, "calculate_qparams"):
            continue
        try:
            s, z = m.calculate_qparams()
        except Exception:  # noqa: BLE001  (markers have no qparams)
            continue
        by_id[ins["observer"]] = {"scale": [float(v) for v in s.reshape(-1).tolist()],
                                  "zero_point": [int(v) for v in z.reshape(-1).tolist()]}
    expected = {"observers": {str(k): v for k, v in sorted(by_id.items())},
                "insertions": {ins["name"]: by_id[ins["observer"]]
                               for ins in insertions if ins["observer"] in by_id}}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("%d observers, %d insertions, %d with qparams; notes: %s"
          % (len(observers), len(insertions), len(by_id), notes), file=sys.stderr)


if __name__ == "__main__":
    main()
