#!/usr/bin/python3
"""Goldens for the input-weight equalization observers, from real PyTorch 1.13 runs.

  /usr/bin/python3 tools/gen_equalization_goldens.py

Writes two corpora (deterministic: fixed seeds):

tests/observers/data/equalization.json (tests/observers/equalization_test.cc):
  observers: [{name, spec (qprep's syntax), class, batches: [{shape, data: [bits]}],
               expect: {min_val, max_val} | {error: "observe"}}]
     _InputEqualizationObserver / _WeightEqualizationObserver of
     torch/ao/quantization/fx/_equalize.py run on the batches; min_val / max_val are
     get_input_minmax() / get_weight_col_minmax().
  scales: [{name, input: <observer case name>, weight: <observer case name>,
            expect: {scale, default, scaled_min_val?, scaled_max_val? | scaled: null}}]
     calculate_equalization_scale(input_obs, weight_obs), then
     input_obs.set_equalization_scale(scale) and calculate_scaled_minmax().
  Floats are float32 bit patterns (uint32), so the test compares bit for bit.

tests/calibrate/data/equalization_linear_chain/ (tests/calibrate/equalization_cli_test.cc):
  tests/models/equalization.py's LinearChain prepared by PyTorch's prepare_fx with
  default_equalization_qconfig (qconfig get_default_qconfig_mapping("fbgemm")), run on 3 batches.
  Every observer module's input is saved as data/<module name>/batch_<k>.npy (what
  `qprepc calibrate --data` reads, the module names being the plan's insertion names), and
  expected.json records, per equalization observer, PyTorch's per-column min / max and, for the
  one node whose weight equalization observer is in the graph (the F.linear), the equalization
  scale and the scaled min / max (floats as bit patterns).
"""
import json
import os
import shutil
import struct
import sys
import warnings

import numpy as np
import torch
from torch.ao.quantization.fx import _equalize as eq

warnings.filterwarnings("ignore")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bits(t):
    a = np.asarray(t.detach().numpy() if isinstance(t, torch.Tensor) else t, dtype=np.float32)
    return [struct.unpack("<I", struct.pack("<f", float(v)))[0] for v in a.reshape(-1)]


def gen(shape, seed, kind="normal"):
    g = np.random.RandomState(seed)
    if kind == "normal":
        return (g.randn(*shape) * 2.0 + 0.3).astype(np.float32)
    if kind == "negative":
        return (-np.abs(g.randn(*shape)) * 3.0 - 0.5).astype(np.float32)
    if kind == "equal_cols":
        # Every column constant (a different constant per column): zero input range.
        a = np.empty(shape, dtype=np.float32)
        for c in range(shape[1]):
            a[:, c, ...] = np.float32(0.25 * c - 1.0)
        return a
    if kind == "some_equal":
        a = (g.randn(*shape) * 1.5).astype(np.float32)
        a[:, 0, ...] = np.float32(2.0)  # column 0 constant
        return a
    raise ValueError(kind)


def spec_text(cls, kw):
    inner = ", ".join("%s=%s" % (k, str(v).replace("torch.", "")) for k, v in kw.items())
    return "%s(%s)" % (cls, inner)


INPUT_KW = dict(dtype=torch.quint8, qscheme=torch.per_tensor_symmetric)  # default qconfig
WEIGHT_KW = dict(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)


def observer_cases():
    """(name, class, kwargs, [batches])"""
    cases = []
    for cls, kw in (("_InputEqualizationObserver", INPUT_KW),
                    ("_InputEqualizationObserver", {}),
                    ("_WeightEqualizationObserver", WEIGHT_KW),
                    ("_WeightEqualizationObserver", {})):
        tag = cls[1:6].lower() + ("_default" if not kw else "")
        cases += [
            ("%s_linear_1batch" % tag, cls, kw, [gen((8, 16), 1)]),
            ("%s_linear_3batches" % tag, cls, kw, [gen((5, 16), s) for s in (2, 3, 4)]),
            ("%s_conv4d_3batches" % tag, cls, kw, [gen((2, 6, 5, 7), s) for s in (5, 6, 7)]),
            ("%s_conv3d_2batches" % tag, cls, kw, [gen((2, 3, 9), s) for s in (8, 9)]),
            ("%s_conv5d" % tag, cls, kw, [gen((2, 3, 2, 3, 4), 10)]),
            ("%s_equal_columns" % tag, cls, kw, [gen((4, 5), 0, "equal_cols")] * 2),
            ("%s_negative" % tag, cls, kw, [gen((6, 8), s, "negative") for s in (11, 12)]),
        ]
    # Inputs and weights with matching column counts for the scale cases.
    I, W = "_InputEqualizationObserver", "_WeightEqualizationObserver"
    cases += [
        ("pair_lin_x", I, INPUT_KW, [gen((8, 12), s) for s in (20, 21, 22)]),
        ("pair_lin_w", W, WEIGHT_KW, [gen((10, 12), 23)]),
        ("pair_conv_x", I, INPUT_KW, [gen((2, 4, 6, 6), s) for s in (24, 25)]),
        ("pair_conv_w", W, WEIGHT_KW, [gen((8, 4, 3, 3), 26)]),
        ("pair_eqx_x", I, INPUT_KW, [gen((4, 5), 0, "equal_cols")]),
        ("pair_eqx_w", W, WEIGHT_KW, [gen((3, 5), 27)]),
        ("pair_eqw_x", I, INPUT_KW, [gen((4, 5), 28)]),
        ("pair_eqw_w", W, WEIGHT_KW, [gen((3, 5), 0, "equal_cols")]),
        ("pair_some_x", I, INPUT_KW, [gen((6, 4), 29, "some_equal")]),
        ("pair_some_w", W, WEIGHT_KW, [gen((5, 4), 30, "some_equal")]),
        ("pair_neg_x", I, INPUT_KW, [gen((6, 7), s, "negative") for s in (31, 32)]),
        ("pair_neg_w", W, WEIGHT_KW, [gen((3, 7), 33, "negative")]),
        ("pair_one_x", I, INPUT_KW, [gen((6, 1), 34)]),
        ("pair_one_w", W, WEIGHT_KW, [gen((3, 1), 35)]),
        # One column whose scale is exactly 1 (equal ranges): set_equalization_scale ignores
        # it and calculate_scaled_minmax returns (None, None).
        ("pair_unit_x", I, INPUT_KW, [np.array([[0.0], [2.0]], dtype=np.float32)]),
        ("pair_unit_w", W, WEIGHT_KW, [np.array([[-1.0], [1.0]], dtype=np.float32)]),
        ("pair_mismatch_w", W, WEIGHT_KW, [gen((3, 6), 36)]),
        ("pair_empty_x", I, INPUT_KW, []),
        # Rank 1: forward raises ValueError.
        ("input_rank1_error", I, INPUT_KW, [gen((2, 4), 37).reshape(-1)]),
        ("weight_rank6_error", W, WEIGHT_KW, [gen((1, 2, 1, 1, 1, 2), 38)]),
    ]
    return cases


SCALE_CASES = [
    ("scale_linear", "pair_lin_x", "pair_lin_w"),
    ("scale_conv", "pair_conv_x", "pair_conv_w"),
    ("scale_input_equal_columns", "pair_eqx_x", "pair_eqx_w"),
    ("scale_weight_equal_columns", "pair_eqw_x", "pair_eqw_w"),
    ("scale_some_equal", "pair_some_x", "pair_some_w"),
    ("scale_negative", "pair_neg_x", "pair_neg_w"),
    ("scale_one_column", "pair_one_x", "pair_one_w"),
    ("scale_unit", "pair_unit_x", "pair_unit_w"),
    ("scale_no_input_data", "pair_empty_x", "pair_lin_w"),
    ("scale_mismatch", "pair_lin_x", "pair_mismatch_w"),
]


def run_observers():
    out, built = [], {}
    for name, cls, kw, batches in observer_cases():
        o = getattr(eq, cls)(**kw)
        entry = {"name": name, "class": cls, "spec": spec_text(cls, kw),
                 "batches": [{"shape": list(b.shape), "data": bits(b)} for b in batches]}
        try:
            for b in batches:
                o(torch.from_numpy(b.copy()))
            mn, mx = o.get_input_minmax() if cls.startswith("_Input") else o.get_weight_col_minmax()
            entry["expect"] = {"min_val": bits(mn), "max_val": bits(mx)}
        except ValueError:
            entry["expect"] = {"error": "observe"}
        built[name] = o
        out.append(entry)
    return out, built


def run_scales(built):
    out = []
    for name, xi, wi in SCALE_CASES:
        x, w = built[xi], built[wi]
        entry = {"name": name, "input": xi, "weight": wi}
        try:
            s = eq.calculate_equalization_scale(x, w)
        except ValueError:
            entry["expect"] = {"error": "scale"}
            out.append(entry)
            continue
        default = s.dtype != torch.float32  # torch.tensor(1) is int64
        exp = {"scale": bits(s.float()), "default": bool(default)}
        # set_equalization_scale mutates the input observer: use a copy.
        xc = eq._InputEqualizationObserver(dtype=x.dtype, qscheme=x.qscheme)
        xc.load_state_dict(x.state_dict())
        xc.equalization_shape = list(x.equalization_shape)
        xc.set_equalization_scale(s)
        lo, hi = xc.calculate_scaled_minmax()
        if lo is None:
            exp["scaled"] = None
        else:
            exp["scaled_min_val"] = bits(lo)[0]
            exp["scaled_max_val"] = bits(hi)[0]
        entry["expect"] = exp
        out.append(entry)
    return out


def linear_chain(out_dir):
    sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
    import equalization as models  # tests/models/equalization.py
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    torch.manual_seed(0)
    m = models.LinearChain().eval()
    mapping = get_default_qconfig_mapping("fbgemm")
    eq_mapping = torch.ao.quantization.QConfigMapping().set_global(eq.default_equalization_qconfig)
    example = (torch.randn(2, 4),)
    p = prepare_fx(m, mapping, example, _equalization_config=eq_mapping)
    seen = {}

    def hook(name):
        def f(_mod, inputs):
            seen.setdefault(name, []).append(inputs[0].detach().clone())
        return f

    for name, mod in p.named_modules():
        if name.startswith("activation_post_process_") and "." not in name:
            mod.register_forward_pre_hook(hook(name))
    g = torch.Generator().manual_seed(1)
    for k in range(3):
        p(torch.randn(3, 4, generator=g) * (1.0 + k))
    shutil.rmtree(os.path.join(out_dir, "data"), ignore_errors=True)
    for name, batches in seen.items():
        d = os.path.join(out_dir, "data", name)
        os.makedirs(d, exist_ok=True)
        for k, b in enumerate(batches):
            np.save(os.path.join(d, "batch_%d.npy" % k), b.numpy().astype(np.float32))
    expect = {"observers": {}, "scales": {}}
    eq_mods = {n: mod for n, mod in p.named_modules() if eq.is_equalization_observer(mod)}
    for n, mod in eq_mods.items():
        mn, mx = mod.get_input_minmax() if isinstance(mod, eq._InputEqualizationObserver) \
            else mod.get_weight_col_minmax()
        expect["observers"][n] = {"class": type(mod).__name__, "min_val": bits(mn),
                                  "max_val": bits(mx)}
    # The graph's F.linear: its input eq observer and weight eq observer (the others are
    # nn.Linear modules, whose weights PyTorch observes in convert).
    for node in p.graph.nodes:
        if node.op == "call_function" and node.target is torch.nn.functional.linear:
            x_eq, w_eq = node.args[0].target, node.args[1].target
            # prepare order: value -> activation observer -> equalization observer -> op; the
            # weight: w -> weight equalization observer -> weight observer -> op.
            if not isinstance(eq_mods.get(x_eq), eq._InputEqualizationObserver):
                x_eq = node.args[0].args[0].target if node.args[0].op == "call_module" else x_eq
            if not isinstance(eq_mods.get(w_eq), eq._WeightEqualizationObserver):
                w_eq = node.args[1].args[0].target
            xo, wo = eq_mods[x_eq], eq_mods[w_eq]
            s = eq.calculate_equalization_scale(xo, wo)
            xo.set_equalization_scale(s)
            lo, hi = xo.calculate_scaled_minmax()
            expect["scales"]["linear"] = {"input": x_eq, "weight": w_eq, "scale": bits(s),
                                          "scaled_min_val": bits(lo)[0],
                                          "scaled_max_val": bits(hi)[0]}
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump({"generator": "tools/gen_equalization_goldens.py", "torch": torch.__version__,
                   **expect}, f, indent=1, sort_keys=True)
        f.write("\n")
    return expect


def main():
    obs_cases, built = run_observers()
    scales = run_scales(built)
    path = os.path.join(ROOT, "tests", "observers", "data", "equalization.json")
    with open(path, "w") as f:
        json.dump({"generator": "tools/gen_equalization_goldens.py", "torch": torch.__version__,
                   "observers": obs_cases, "scales": scales}, f)
        f.write("\n")
    chain = linear_chain(os.path.join(ROOT, "tests", "calibrate", "data",
                                      "equalization_linear_chain"))
    print("%d observer cases, %d scale cases -> %s; linear chain: %d equalization observers, "
          "%d scales" % (len(obs_cases), len(scales), path, len(chain["observers"]),
                         len(chain["scales"])))


if __name__ == "__main__":
    main()
