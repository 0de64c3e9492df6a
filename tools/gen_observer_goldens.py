#!/usr/bin/python3
"""Generates the observer exactness corpus: tests/observers/data/{cases.json, inputs.f32}.

Runs PyTorch's own observers (Debian's python3-torch, 1.13) on deterministic inputs and records
what they compute, for tests/observers/golden_test.cc to compare bit for bit.

  /usr/bin/python3 tools/gen_observer_goldens.py [--out tests/observers/data]

Layout:
  inputs.f32   every batch of every case, float32 little-endian, concatenated
  cases.json   [{name, spec (qprep's Class(arg=value) syntax), torch (the constructor used),
                 batches: [{shape, offset, count}],   offset/count in floats into inputs.f32
                 expect: {min_val, max_val, scale, zero_point | zero_point_float,
                          histogram?, forward_output?: {offset, count} (fake-quant, last batch),
                          error?: "observe" | "qparams"}}]
  Floats in cases.json are float32 bit patterns (uint32), so the comparison is exact.

HistogramObserver: PyTorch 1.13 truncates histc's bounds with int() (a bug fixed in 2.x). The
corpus uses FloatBoundsHistogramObserver below, 1.13's forward with the int() removed, i.e. the
2.x behaviour qprep implements. Everything else is PyTorch 1.13 unmodified.
"""
import argparse
import json
import os
import struct
import warnings

import numpy as np
import torch
from torch.ao.quantization import fake_quantize as fq
from torch.ao.quantization import observer as obs

warnings.filterwarnings("ignore")


class FloatBoundsHistogramObserver(obs.HistogramObserver):
    """HistogramObserver.forward of 1.13 with float histc bounds (PyTorch 2.x)."""

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach()
        min_val = self.min_val
        max_val = self.max_val
        same_values = min_val.item() == max_val.item()
        is_uninitialized = min_val == float("inf") and max_val == float("-inf")
        if is_uninitialized or same_values:
            min_val, max_val = torch.aminmax(x)
            self.min_val.resize_(min_val.shape)
            self.min_val.copy_(min_val)
            self.max_val.resize_(max_val.shape)
            self.max_val.copy_(max_val)
            torch.histc(x, self.bins, min=float(min_val), max=float(max_val), out=self.histogram)
        else:
            new_min, new_max = torch.aminmax(x)
            combined_min = torch.min(new_min, min_val)
            combined_max = torch.max(new_max, max_val)
            (combined_min, combined_max, downsample_rate, start_idx) = self._adjust_min_max(
                combined_min, combined_max, self.upsample_rate)
            combined_histogram = torch.histc(
                x, self.bins, min=float(combined_min), max=float(combined_max))
            if combined_min == min_val and combined_max == max_val:
                combined_histogram += self.histogram
            else:
                combined_histogram = self._combine_histograms(
                    combined_histogram, self.histogram, self.upsample_rate, downsample_rate,
                    start_idx, self.bins)
            self.histogram.detach_().resize_(combined_histogram.shape)
            self.histogram.copy_(combined_histogram)
            self.min_val.detach_().resize_(combined_min.shape)
            self.min_val.copy_(combined_min)
            self.max_val.detach_().resize_(combined_max.shape)
            self.max_val.copy_(combined_max)
        return x_orig


CLASSES = {
    "MinMaxObserver": obs.MinMaxObserver,
    "MovingAverageMinMaxObserver": obs.MovingAverageMinMaxObserver,
    "PerChannelMinMaxObserver": obs.PerChannelMinMaxObserver,
    "MovingAveragePerChannelMinMaxObserver": obs.MovingAveragePerChannelMinMaxObserver,
    "HistogramObserver": FloatBoundsHistogramObserver,
    "FixedQParamsObserver": obs.FixedQParamsObserver,
    "FakeQuantize": fq.FakeQuantize,
    "FusedMovingAvgObsFakeQuantize": fq.FusedMovingAvgObsFakeQuantize,
}


def bits(a):
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32)).reshape(-1)
    return [int(u) for u in a.view(np.uint32)]


def fmt(v):
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    if isinstance(v, torch.qscheme):
        return str(v).replace("torch.", "")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, type):
        return v.__name__
    return repr(v)


def spec_text(cls, kwargs):
    inner = ", ".join(f"{k}={fmt(v)}" for k, v in kwargs.items())
    return f"{cls}({inner})"


# ---- inputs --------------------------------------------------------------------------------


def gen(kind, shape, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape)) if len(shape) else 1
    if kind == "normal":
        x = rng.standard_normal(n)
    elif kind == "uniform":
        x = rng.uniform(-3.0, 5.0, n)
    elif kind == "heavy":
        x = rng.standard_t(1.5, n)
    elif kind == "positive":
        x = np.maximum(rng.standard_normal(n) * 2.0, 0.0)
    elif kind == "equal":
        x = np.full(n, 0.7)
    elif kind == "negative_equal":
        x = np.full(n, -1.25)
    elif kind == "zeros":
        x = np.zeros(n)
    elif kind == "tiny":
        x = rng.standard_normal(n) * 1e-39  # denormals
    elif kind == "huge":
        x = rng.standard_normal(n) * 1e30
    elif kind == "narrow":
        x = 1000.0 + rng.standard_normal(n) * 1e-3
    elif kind == "with_nan":
        x = rng.standard_normal(n)
        x[n // 2] = np.nan
    elif kind == "with_inf":
        x = rng.standard_normal(n)
        x[n // 3] = np.inf
    elif kind == "with_neg_inf":
        x = rng.standard_normal(n)
        x[n // 3] = -np.inf
    else:
        raise ValueError(kind)
    return x.astype(np.float32).reshape(shape)


def sequence(kind, shape, count, seed, drift=False):
    out = []
    for b in range(count):
        x = gen(kind, shape, seed * 100 + b)
        if drift:
            x = (x * (1.0 + 0.6 * b) + 0.3 * b).astype(np.float32)
        out.append(x)
    return out


# ---- cases ---------------------------------------------------------------------------------

S4 = (2, 8, 5, 6)    # NCHW activation
W4 = (16, 4, 3, 3)   # conv weight
M2 = (12, 20)        # linear weight / matrix


def per_tensor_cases():
    cases = []
    specs = [
        ("MinMaxObserver", {}),
        ("MinMaxObserver", {"dtype": torch.qint8, "qscheme": torch.per_tensor_symmetric}),
        ("MinMaxObserver", {"dtype": torch.quint8, "qscheme": torch.per_tensor_symmetric}),
        ("MinMaxObserver", {"reduce_range": True}),
        ("MinMaxObserver", {"dtype": torch.qint8, "reduce_range": True}),
        ("MinMaxObserver", {"quant_min": 0, "quant_max": 15}),
        ("MinMaxObserver", {"dtype": torch.qint8, "quant_min": -8, "quant_max": 7}),
        ("MinMaxObserver", {"dtype": torch.quint8, "qscheme": torch.per_tensor_symmetric,
                            "quant_min": 0, "quant_max": 100}),
        ("MinMaxObserver", {"dtype": torch.qint8, "quant_min": -127, "quant_max": 127,
                            "reduce_range": True}),
        ("MinMaxObserver", {"dtype": torch.qint32}),
        ("MinMaxObserver", {"dtype": torch.qint32, "qscheme": torch.per_tensor_symmetric}),
        ("MinMaxObserver", {"dtype": torch.quint4x2}),
        ("MinMaxObserver", {"eps": 1e-3}),
        ("MovingAverageMinMaxObserver", {}),
        ("MovingAverageMinMaxObserver", {"averaging_constant": 0.1, "dtype": torch.qint8,
                                         "qscheme": torch.per_tensor_symmetric}),
        ("HistogramObserver", {}),
        ("HistogramObserver", {"dtype": torch.qint8, "qscheme": torch.per_tensor_symmetric}),
        ("HistogramObserver", {"reduce_range": True}),
        ("HistogramObserver", {"bins": 256, "upsample_rate": 16}),
        ("HistogramObserver", {"dtype": torch.qint32}),
        ("HistogramObserver", {"dtype": torch.quint4x2}),
        ("HistogramObserver", {"quant_min": 0, "quant_max": 15}),
        ("HistogramObserver", {"dtype": torch.qint8, "quant_min": -8, "quant_max": 7,
                               "qscheme": torch.per_tensor_symmetric}),
    ]
    data = [
        ("normal", S4, 1, False), ("uniform", S4, 1, False), ("heavy", S4, 1, False),
        ("positive", S4, 1, False), ("equal", S4, 1, False), ("negative_equal", (7,), 1, False),
        ("zeros", (5,), 1, False), ("normal", (), 1, False), ("tiny", (64,), 1, False),
        ("narrow", (200,), 1, False),
        ("normal", S4, 4, True), ("heavy", S4, 3, True), ("positive", (3, 50), 3, True),
        ("uniform", (1000,), 3, False),
    ]
    for ci, (cls, kw) in enumerate(specs):
        for di, (kind, shape, count, drift) in enumerate(data):
            if cls == "HistogramObserver" and kind in ("tiny",):
                continue  # histogram resolution of denormal ranges underflows in both
            batches = sequence(kind, shape, count, seed=ci * 31 + di, drift=drift)
            cases.append((f"{cls}_{ci}_{kind}_{count}{'_drift' if drift else ''}", cls, kw,
                          batches))
    # Sequences that change the histogram's range in both directions, and all-equal first.
    hist_seq = [
        gen("equal", (40,), 1),
        gen("normal", (40,), 2),
        (gen("normal", (40,), 3) * 5.0).astype(np.float32),
        (gen("uniform", (40,), 4) * 0.1).astype(np.float32),
        (gen("positive", (40,), 5) + 20.0).astype(np.float32),
    ]
    cases.append(("HistogramObserver_grow_shrink", "HistogramObserver", {}, hist_seq))
    cases.append(("MinMaxObserver_grow_shrink", "MinMaxObserver", {}, hist_seq))
    cases.append(("MovingAverageMinMaxObserver_grow_shrink", "MovingAverageMinMaxObserver", {},
                  hist_seq))
    # Empty batches are skipped.
    with_empty = [np.zeros((0, 3), np.float32), gen("normal", (9,), 7),
                  np.zeros((4, 0), np.float32), gen("uniform", (9,), 8)]
    for cls in ("MinMaxObserver", "MovingAverageMinMaxObserver", "HistogramObserver"):
        cases.append((f"{cls}_with_empty", cls, {}, with_empty))
        cases.append((f"{cls}_only_empty", cls, {}, [np.zeros((0,), np.float32)]))
    # Non-finite data.
    for kind in ("with_nan", "with_inf", "with_neg_inf"):
        for cls, kw in (("MinMaxObserver", {}),
                        ("MinMaxObserver", {"dtype": torch.qint8,
                                            "qscheme": torch.per_tensor_symmetric}),
                        ("MovingAverageMinMaxObserver", {}), ("HistogramObserver", {})):
            cases.append((f"{cls}_{kind}_{len(kw)}", cls, kw, [gen(kind, (33,), 9)]))
    return cases


def per_channel_cases():
    cases = []
    specs = [
        ("PerChannelMinMaxObserver", {}),
        ("PerChannelMinMaxObserver", {"dtype": torch.qint8,
                                      "qscheme": torch.per_channel_symmetric}),
        ("PerChannelMinMaxObserver", {"dtype": torch.qint8,
                                      "qscheme": torch.per_channel_symmetric,
                                      "reduce_range": True}),
        ("PerChannelMinMaxObserver", {"qscheme": torch.per_channel_affine_float_qparams}),
        ("PerChannelMinMaxObserver", {"dtype": torch.quint4x2,
                                      "qscheme": torch.per_channel_affine_float_qparams}),
        ("PerChannelMinMaxObserver", {"quant_min": 0, "quant_max": 31}),
        ("MovingAveragePerChannelMinMaxObserver", {}),
        ("MovingAveragePerChannelMinMaxObserver", {"averaging_constant": 0.25,
                                                   "dtype": torch.qint8,
                                                   "qscheme": torch.per_channel_symmetric}),
    ]
    layouts = [(W4, 0), (W4, 1), (S4, 1), (S4, 3), (S4, -1), (M2, 0), (M2, 1), ((10,), 0),
               ((2, 3, 4, 5, 6), 2)]
    kinds = [("normal", 1, False), ("heavy", 3, True), ("positive", 2, True),
             ("equal", 1, False)]
    for ci, (cls, kw) in enumerate(specs):
        for li, (shape, axis) in enumerate(layouts):
            for ki, (kind, count, drift) in enumerate(kinds):
                if ki > 1 and li % 3 != 0:
                    continue  # keep the corpus small: all kinds on a third of the layouts
                k = dict(kw)
                k["ch_axis"] = axis
                batches = sequence(kind, shape, count, seed=1000 + ci * 97 + li * 7 + ki,
                                   drift=drift)
                cases.append((f"{cls}_{ci}_axis{axis}_{'x'.join(map(str, shape))}_{kind}"
                              f"_{count}", cls, k, batches))
    for kind in ("with_nan", "with_inf"):
        cases.append((f"PerChannelMinMaxObserver_{kind}", "PerChannelMinMaxObserver",
                      {"ch_axis": 0}, [gen(kind, (3, 11), 11)]))
    return cases


def fake_quant_cases():
    cases = []
    specs = [
        ("FakeQuantize", {}),
        ("FakeQuantize", {"observer": obs.MovingAverageMinMaxObserver, "quant_min": 0,
                          "quant_max": 255, "dtype": torch.quint8,
                          "qscheme": torch.per_tensor_affine, "reduce_range": True}),
        ("FakeQuantize", {"observer": obs.MovingAverageMinMaxObserver, "quant_min": -128,
                          "quant_max": 127, "dtype": torch.qint8,
                          "qscheme": torch.per_tensor_symmetric}),
        ("FakeQuantize", {"observer": obs.MinMaxObserver, "quant_min": 0, "quant_max": 15}),
        ("FakeQuantize", {"observer": obs.MovingAveragePerChannelMinMaxObserver,
                          "quant_min": -128, "quant_max": 127, "dtype": torch.qint8,
                          "qscheme": torch.per_channel_symmetric, "ch_axis": 0}),
        ("FakeQuantize", {"observer": obs.PerChannelMinMaxObserver, "ch_axis": 1}),
        ("FakeQuantize", {"observer": obs.MovingAveragePerChannelMinMaxObserver,
                          "qscheme": torch.per_channel_affine_float_qparams,
                          "dtype": torch.quint8, "quant_min": 0, "quant_max": 255,
                          "ch_axis": 0}),
        ("FakeQuantize", {"observer": obs.PerChannelMinMaxObserver,
                          "qscheme": torch.per_channel_affine_float_qparams,
                          "dtype": torch.quint8, "ch_axis": 1}),
        ("FusedMovingAvgObsFakeQuantize", {}),
        ("FusedMovingAvgObsFakeQuantize", {"observer": obs.MovingAverageMinMaxObserver,
                                           "quant_min": -128, "quant_max": 127,
                                           "dtype": torch.qint8,
                                           "qscheme": torch.per_tensor_symmetric}),
        ("FusedMovingAvgObsFakeQuantize", {"observer": obs.MovingAveragePerChannelMinMaxObserver,
                                           "quant_min": -128, "quant_max": 127,
                                           "dtype": torch.qint8,
                                           "qscheme": torch.per_channel_symmetric,
                                           "ch_axis": 0}),
        ("FusedMovingAvgObsFakeQuantize", {"observer": obs.MovingAveragePerChannelMinMaxObserver,
                                           "ch_axis": 1}),
        ("FusedMovingAvgObsFakeQuantize", {"reduce_range": True}),
    ]
    data = [("normal", W4, 3, True), ("heavy", S4, 2, True), ("positive", (64,), 2, False),
            ("equal", (6, 5), 1, False)]
    for ci, (cls, kw) in enumerate(specs):
        for di, (kind, shape, count, drift) in enumerate(data):
            batches = sequence(kind, shape, count, seed=5000 + ci * 13 + di, drift=drift)
            # Values exactly on rounding ties and outside the range, to test the clamp.
            cases.append((f"{cls}_{ci}_{kind}_{count}", cls, kw, batches))
    return cases


def run_case(name, cls, kw, batches, inputs, spec=None, make=None):
    entry = {"name": name, "spec": spec or spec_text(cls, kw), "batches": []}
    for b in batches:
        flat = np.ascontiguousarray(b, dtype=np.float32).reshape(-1)
        entry["batches"].append({"shape": list(b.shape), "offset": len(inputs[0]) // 4,
                                 "count": int(flat.size)})
        inputs[0] += flat.tobytes()
    module = make() if make else CLASSES[cls](**kw)
    expect = {}
    out = None
    try:
        for b in batches:
            out = module(torch.from_numpy(np.array(b, dtype=np.float32)))
    except Exception as e:  # PyTorch raises on this input: qprep must return an error
        expect["error"] = "observe"
        expect["message"] = f"{type(e).__name__}: {e}"
        entry["expect"] = expect
        return entry
    o = module.activation_post_process if hasattr(module, "activation_post_process") else module
    if hasattr(o, "min_val"):
        expect["min_val"] = bits(o.min_val.detach().numpy())
        expect["max_val"] = bits(o.max_val.detach().numpy())
    if hasattr(o, "histogram"):
        expect["histogram"] = bits(o.histogram.detach().numpy())
    try:
        scale, zp = module.calculate_qparams()
    except Exception as e:
        expect["error"] = "qparams"
        expect["message"] = f"{type(e).__name__}: {e}"
        entry["expect"] = expect
        return entry
    expect["scale"] = bits(scale.detach().numpy())
    if zp.dtype.is_floating_point:
        expect["zero_point_float"] = bits(zp.detach().numpy())
    else:
        expect["zero_point"] = [int(z) for z in zp.detach().numpy().reshape(-1)]
    if cls in ("FakeQuantize", "FusedMovingAvgObsFakeQuantize", "FixedQParamsFakeQuantize"):
        flat = np.ascontiguousarray(out.detach().numpy(), dtype=np.float32).reshape(-1)
        expect["forward_output"] = {"offset": len(inputs[0]) // 4, "count": int(flat.size)}
        inputs[0] += flat.tobytes()
        expect["fake_quant_scale"] = bits(module.scale.detach().numpy())
        if not module.zero_point.dtype.is_floating_point:
            expect["fake_quant_zero_point"] = [int(z) for z in
                                               module.zero_point.numpy().reshape(-1)]
    entry["expect"] = expect
    return entry


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                  "observers", "data"))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    inputs = [b""]
    cases = []
    for name, cls, kw, batches in per_tensor_cases() + per_channel_cases() + fake_quant_cases():
        cases.append(run_case(name, cls, kw, batches, inputs))
    # Fixed qparams: no statistics.
    for name, kw in (("sigmoid", {"scale": 1.0 / 256.0, "zero_point": 0}),
                     ("tanh", {"scale": 2.0 / 256.0, "zero_point": 128})):
        cases.append(run_case(f"FixedQParamsObserver_{name}", "FixedQParamsObserver", kw,
                              [gen("normal", (5,), 1)], inputs))
    # FixedQParamsFakeQuantize takes its observer with_args (sigmoid's and tanh's qparams).
    for name, scale, zp in (("sigmoid", 1.0 / 256.0, 0), ("tanh", 2.0 / 256.0, 128)):
        for di, (kind, shape) in enumerate((("normal", (4, 9)), ("uniform", (30,)))):
            cases.append(run_case(
                f"FixedQParamsFakeQuantize_{name}_{kind}", "FixedQParamsFakeQuantize", {},
                [gen(kind, shape, 40 + di)], inputs,
                spec=f"FixedQParamsFakeQuantize(observer=FixedQParamsObserver(scale={scale!r}, "
                     f"zero_point={zp}))",
                make=lambda s=scale, z=zp: fq.FixedQParamsFakeQuantize(
                    observer=obs.FixedQParamsObserver.with_args(scale=s, zero_point=z))))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "inputs.f32"), "wb") as f:
        f.write(inputs[0])
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"generator": "tools/gen_observer_goldens.py",
                   "torch": torch.__version__,
                   "histogram": "float histc bounds (PyTorch 2.x behaviour)",
                   "cases": cases}, f, indent=0)
        f.write("\n")
    errors = sum(1 for c in cases if "error" in c["expect"])
    print(f"{len(cases)} cases ({errors} expecting errors), "
          f"{len(inputs[0]) // 4} floats of input/output")


if __name__ == "__main__":
    main()
