#!/usr/bin/python3
"""PyTorch's own answer for a model: the oracle qprepc's plans are compared with (issue 4).

Prepares a model with PyTorch 1.13.1's `prepare_fx` (or `prepare_qat_fx` with `--qat`, model in
train mode), using `get_default_qconfig_mapping(backend)` / `get_default_qat_qconfig_mapping(
backend)` and the backend's BackendConfig, and writes the canonical placement of
/work/shared/reference/PLAN_FORMAT.md ("Two plans place the same observers when") as JSON in the
plan's shape: `observers` (one per distinct observer module *object*, class and effective args),
`insertions` in graph order (observer node name, observer id, observed value and consumers by
*input-graph* name). The input graph is the one tools/export_fx.py writes (same tracer, same
names); `--qg OUT.qg` writes it too, from the very trace the mapping used.

Input-weight equalization (`--equalization`, prepare_fx's `_equalization_config`): the
equalization observers (nn.Modules, not ObserverBase) are observer nodes too; each is an
insertion with `"kind": "equalization"` at the point of the observer it follows (consumers are
followed through such chains to the node that finally reads the value).

Fused nodes are mapped back to the input graph: a fused node keeps its root's name; the value a
fused chain produces is the chain's last input node, found by walking from the root along single
users that no longer exist in the prepared graph. Instances are shared exactly when observer
call_module targets resolve to the same module object (that is how 1.13 implements
output_share_observer_with_input).

It also times `prepare_fx` (wall clock, median of `--repeat` runs, each on a fresh deep copy of
the model; the copy is outside the timed region) and writes `torch_prepare_seconds`.

Usage:
  /usr/bin/python3 tools/torch_reference.py --torchvision resnet18 --backend fbgemm \
      -o resnet18.fbgemm.ref.json [--qg resnet18.qg] [--qat] [--repeat 3]
  /usr/bin/python3 tools/torch_reference.py --model tests/models/m.py:factory --input-shape 1,3,8,8 \
      --qconfig-mapping tests/models/m.py:qconfig_mapping \
      --prepare-custom-config tests/models/m.py:prepare_custom_config -o m.ref.json
"""

import argparse
import copy
import json
import os
import re
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_fx  # noqa: E402  (same directory; must trace exactly as the exporter does)

import torch  # noqa: E402
import torch.ao.quantization as tq  # noqa: E402
from torch.ao.quantization import backend_config as bc  # noqa: E402
from torch.ao.quantization.fake_quantize import FakeQuantizeBase  # noqa: E402
from torch.ao.quantization.fx._equalize import is_equalization_observer  # noqa: E402
from torch.ao.quantization.observer import ObserverBase  # noqa: E402
from torch.ao.quantization.quantize_fx import prepare_fx, prepare_qat_fx  # noqa: E402

FORMAT = "qprep.torch_reference"


def backend_config_for(name):
    """The BackendConfig PyTorch 1.13 uses for a backend name. 1.13 has no onednn config (2.x
    added get_onednn_backend_config); onednn uses the native config, as 1.13's own default."""
    if name == "fbgemm":
        return bc.get_fbgemm_backend_config()
    if name == "qnnpack":
        return bc.get_qnnpack_backend_config()
    if name == "x86":
        from torch.ao.quantization.backend_config.x86 import get_x86_backend_config
        return get_x86_backend_config()
    if name in ("onednn", "native"):
        return bc.get_native_backend_config()
    raise SystemExit(f"error: unknown backend {name!r}")


def qconfig_mapping_for(name, qat):
    qname = "fbgemm" if name == "native" else name
    if qat:
        return tq.get_default_qat_qconfig_mapping(qname)
    return tq.get_default_qconfig_mapping(qname)


# ----------------------------------------------------------------------------------------------
# Observer instances: class + effective args


def _short(v):
    return str(v).replace("torch.", "")


def _observer_args(o):
    """PyTorch's argument names with the values the instance holds (after reduce_range etc.)."""
    args = {}
    if hasattr(o, "dtype"):
        args["dtype"] = _short(o.dtype)
    if hasattr(o, "qscheme"):
        args["qscheme"] = _short(o.qscheme)
    for k in ("quant_min", "quant_max"):
        if getattr(o, k, None) is not None:
            args[k] = int(getattr(o, k))
    if hasattr(o, "reduce_range"):
        args["reduce_range"] = bool(o.reduce_range)
    if isinstance(o, (tq.PerChannelMinMaxObserver,)) or (
            isinstance(o, FakeQuantizeBase) and getattr(o, "is_per_channel", False)):
        args["ch_axis"] = int(o.ch_axis)
    if hasattr(o, "averaging_constant"):
        args["averaging_constant"] = float(o.averaging_constant)
    if isinstance(o, tq.HistogramObserver):
        args["bins"] = int(o.bins)
        args["upsample_rate"] = int(o.upsample_rate)
    if isinstance(o, (tq.FixedQParamsObserver, tq.FixedQParamsFakeQuantize)):
        args["scale"] = float(o.scale.reshape(-1)[0])
        args["zero_point"] = int(o.zero_point.reshape(-1)[0])
    if isinstance(o, tq.PlaceholderObserver):
        compute_dtype = getattr(o, "compute_dtype", None)
        # 1.13 marks dynamic quantization by compute_dtype (2.x: is_dynamic).
        args["is_dynamic"] = compute_dtype is not None
        if compute_dtype is not None:
            args["compute_dtype"] = _short(compute_dtype)
    eps = getattr(o, "eps", None)
    if isinstance(eps, torch.Tensor) and eps.numel() == 1:
        args["eps"] = float(eps)
    return args


def describe_observer(o):
    d = {"class": type(o).__name__, "args": _observer_args(o)}
    inner = getattr(o, "activation_post_process", None)
    if isinstance(o, FakeQuantizeBase) and inner is not None:
        d["observer"] = {"class": type(inner).__name__, "args": _observer_args(inner)}
    return d


def is_observer_module(m):
    # Input-weight equalization observers (fx/_equalize.py) are plain nn.Modules.
    return isinstance(m, (ObserverBase, FakeQuantizeBase)) or is_equalization_observer(m)


# ----------------------------------------------------------------------------------------------
# Canonical placement


def canonical_placement(prepared, input_graph):
    """Reads a prepared GraphModule and returns (observers, insertions, notes) with input-graph
    names. `input_graph` is the traced (unfused) torch.fx.Graph whose names the .qg holds."""
    input_nodes = {n.name: n for n in input_graph.nodes}
    modules = dict(prepared.named_modules(remove_duplicate=False))
    prepared_names = {n.name for n in prepared.graph.nodes}
    notes = []

    def is_obs_node(n):
        return n.op == "call_module" and is_observer_module(modules.get(n.target))

    def value_name(n):
        # Through chained observers to the producing node, then from a fused root to the
        # chain's last input node.
        while is_obs_node(n):
            n = n.args[0]
        name = n.name
        if name not in input_nodes:
            notes.append(f"value {name} is not an input-graph node")
            return name
        cur = input_nodes[name]
        while True:
            users = list(cur.users)
            if len(users) != 1 or users[0].name in prepared_names:
                return cur.name
            cur = users[0]

    def consumer_names(n):
        # Through chained observers (x -> activation_post_process -> equalization observer ->
        # node) to the nodes that finally read the value.
        out = set()
        for u in n.users:
            if is_obs_node(u):
                if not is_equalization_observer(modules[u.target]):
                    notes.append(f"observer {n.name} feeds observer {u.name}")
                out.update(consumer_names(u))
            elif u.op == "output":
                out.add("output")
            else:
                if u.name not in input_nodes:
                    notes.append(f"consumer {u.name} is not an input-graph node")
                out.add(u.name)
        return sorted(out)

    ids = {}
    observers, insertions = [], []
    for n in prepared.graph.nodes:
        if not is_obs_node(n):
            continue
        m = modules[n.target]
        if id(m) not in ids:
            ids[id(m)] = len(observers)
            entry = {"id": ids[id(m)]}
            entry.update(describe_observer(m))
            observers.append(entry)
        ins = {"name": n.name, "observer": ids[id(m)], "value": value_name(n.args[0]),
               "consumers": consumer_names(n)}
        if is_equalization_observer(m):
            # A second observer at the same point, after the ordinary one (plan "kind").
            ins["kind"] = "equalization"
        insertions.append(ins)
    return observers, insertions, notes


# ----------------------------------------------------------------------------------------------


def standalone_placements(model, prepared, pcc):
    """Each standalone module's own placement, by the names of the child's own traced graph
    (traced like prepare traces it: with the child's PrepareCustomConfig), with the interface the
    child declares. Keyed by module path."""
    out = {}
    if pcc is None:
        return out
    entries = dict(pcc.standalone_module_names)
    for path, child in prepared.named_modules():
        if not hasattr(child, "_standalone_module_input_quantized_idxs"):
            continue
        original = model.get_submodule(path)
        entry = entries.get(path) or pcc.standalone_module_classes.get(type(original))
        child_pcc = entry.prepare_custom_config if entry is not None else None
        child_gm, _ = export_fx.trace_like_prepare(copy.deepcopy(original),
                                                   child_pcc)
        observers, insertions, notes = canonical_placement(child, child_gm.graph)
        out[path] = {
            "input_quantized_idxs": [int(i) for i in child._standalone_module_input_quantized_idxs],
            "output_quantized_idxs": [int(i) for i in
                                      child._standalone_module_output_quantized_idxs],
            "observers": observers,
            "insertions": insertions,
        }
        if notes:
            out[path]["notes"] = sorted(set(notes))
    return out


def run_prepare(model, qconfig_mapping, example_inputs, pcc, backend_config, qat,
                equalization_config=None):
    if qat:
        return prepare_qat_fx(model, qconfig_mapping, example_inputs, prepare_custom_config=pcc,
                              backend_config=backend_config)
    return prepare_fx(model, qconfig_mapping, example_inputs, prepare_custom_config=pcc,
                      _equalization_config=equalization_config, backend_config=backend_config)


def default_equalization_config():
    """QConfigMapping().set_global(default_equalization_qconfig): what `--equalization default`
    (and qprepc's `--equalization default`) means."""
    from torch.ao.quantization.fx._equalize import default_equalization_qconfig
    return tq.QConfigMapping().set_global(default_equalization_qconfig)


def reference(model, example_inputs, graph_name, backend, qat=False, qconfig_mapping=None,
              pcc=None, repeat=1, expect_error=False, equalization_config=None, exported=None):
    """Returns (reference_dict, qg_text, summary). With `expect_error`, a prepare_fx exception is
    the answer: it is recorded as `"error"` (type and message) with no observers.
    `equalization_config`: prepare_fx's _equalization_config (a QConfigMapping of
    EqualizationQConfigs; prepare_qat_fx has none). `exported`: (qg_text, summary, gm) of an
    earlier export of the same model in the same mode (the survey prepares one trace with
    several backends); by default the model is exported here."""
    if exported is None:
        qg_text, summary, gm, _ = export_fx.export(copy.deepcopy(model), example_inputs,
                                                   graph_name, pcc)
    else:
        qg_text, summary, gm = exported
    backend_config = backend_config_for(backend)
    if qconfig_mapping is None:
        qconfig_mapping = qconfig_mapping_for(backend, qat)
    times = []
    prepared = None
    error = None
    for _ in range(max(1, repeat)):
        m = copy.deepcopy(model)
        m.train(qat)
        start = time.perf_counter()
        try:
            prepared = run_prepare(m, qconfig_mapping, example_inputs, copy.deepcopy(pcc),
                                   backend_config, qat, copy.deepcopy(equalization_config))
        except Exception as e:  # noqa: BLE001  (PyTorch raises many types; all are the answer)
            if not expect_error:
                raise
            # Addresses in reprs change from run to run; the golden must not.
            error = re.sub(r"0x[0-9a-fA-F]+", "0x?", f"{type(e).__name__}: {e}")
            break
        times.append(time.perf_counter() - start)
    if expect_error and error is None:
        raise RuntimeError("prepare_fx was expected to fail but succeeded")
    standalone = {}
    if error is None:
        observers, insertions, notes = canonical_placement(prepared, gm.graph)
        standalone = standalone_placements(model, prepared, pcc)
    else:
        observers, insertions, notes = [], [], []
    ref = {
        "format": FORMAT,
        "version": 1,
        "graph": graph_name,
        "backend": backend,
        "qat": qat,
        "torch_version": torch.__version__,
        "observers": observers,
        "insertions": insertions,
    }
    if standalone:
        ref["standalone_modules"] = standalone
    if error is not None:
        ref["error"] = error
    else:
        ref["torch_prepare_seconds"] = statistics.median(times)
        ref["torch_prepare_runs"] = len(times)
    if notes:
        ref["notes"] = sorted(set(notes))
    return ref, qg_text, summary


def dumps(ref):
    """JSON with one observer / insertion per line, so goldens diff readably."""
    lines = ["{"]
    keys = list(ref)
    for i, k in enumerate(keys):
        v = ref[k]
        end = "," if i + 1 < len(keys) else ""
        if isinstance(v, list) and v:
            lines.append(f"  {json.dumps(k)}: [")
            for j, item in enumerate(v):
                lines.append("    " + json.dumps(item) + ("," if j + 1 < len(v) else ""))
            lines.append("  ]" + end)
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v)}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    export_fx.add_model_args(p)
    p.add_argument("--backend", default="fbgemm",
                   choices=["fbgemm", "qnnpack", "x86", "onednn", "native"])
    p.add_argument("--qat", action="store_true", help="prepare_qat_fx, model in train mode")
    p.add_argument("--qconfig-mapping", metavar="FILE.py:FACTORY",
                   help="a function returning the QConfigMapping (default: the backend's)")
    p.add_argument("--equalization", metavar="default|FILE.py:FACTORY",
                   help="prepare_fx's _equalization_config: `default` is QConfigMapping()."
                        "set_global(default_equalization_qconfig), else a function returning one")
    p.add_argument("--repeat", type=int, default=1, help="time prepare_fx over N runs (median)")
    p.add_argument("-o", "--output", required=True, metavar="REF.json")
    p.add_argument("--qg", metavar="OUT.qg", help="also write the input graph as .qg")
    p.add_argument("--summary", metavar="OUT.json", help="with --qg: the graph summary")
    p.add_argument("--quiet", action="store_true", help="silence PyTorch's warnings")
    args = p.parse_args(argv)
    if args.quiet:
        warnings.simplefilter("ignore")

    model, default_name = export_fx.build_model(args.torchvision, args.model, args.qat)
    pcc = export_fx.load_python_object(args.prepare_custom_config)() \
        if args.prepare_custom_config else None
    qcm = export_fx.load_python_object(args.qconfig_mapping)() if args.qconfig_mapping else None
    example_inputs = export_fx.example_inputs_from_args(args)
    eq = None
    if args.equalization == "default":
        eq = default_equalization_config()
    elif args.equalization:
        eq = export_fx.load_python_object(args.equalization)()
    ref, qg_text, summary = reference(model, example_inputs, args.name or default_name,
                                      args.backend, args.qat, qcm, pcc, args.repeat,
                                      equalization_config=eq)
    export_fx.write_file(args.output, dumps(ref))
    if args.qg:
        export_fx.write_file(args.qg, qg_text)
        if args.summary:
            export_fx.write_file(args.summary, json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
