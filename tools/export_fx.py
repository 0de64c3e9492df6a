#!/usr/bin/python3
"""PyTorch model -> .qg graph (first stage of qprep's pipeline, the Python side).

Traces a model exactly the way PyTorch 1.13's `prepare_fx` does before fusion
(`torch/ao/quantization/quantize_fx.py::_prepare_fx`: FloatFunctional swapped for
FXFloatFunctional, then `QuantizationTracer(skipped_module_names, skipped_module_classes)`), so
node names and scopes are the ones prepare sees. Runs the traced graph on example inputs to
record each node's result metadata (what torch.fx.passes.shape_prop.ShapeProp sees), and writes
the graph in the `.qg` text format of docs/qg-format.md, plus a summary JSON that qprepc's C++
reader recomputes (tests compare the two).

Usage (Debian's python3 with python3-torch 1.13.1 / python3-torchvision 0.14.1):
  /usr/bin/python3 tools/export_fx.py --torchvision resnet18 --input-shape 1,3,224,224 \
      -o resnet18.qg --summary resnet18.summary.json
  /usr/bin/python3 tools/export_fx.py --model tests/models/tiny.py:tiny --input-shape 1,3,8,8 \
      -o tiny.qg
`--input-shape` is repeatable (one per positional input) and takes an optional dtype prefix:
`int64:4,10` (default float32). `--train` traces in train mode (QAT), default eval. For small
models whose prepare uses a PrepareCustomConfig (standalone / custom / non-traceable modules,
which the tracer keeps as leaves), pass it with `--prepare-custom-config FILE.py:FACTORY`.

`--functional` traces *through* the torch.nn layers instead (FunctionalTracer below): Conv2d,
Linear, BatchNorm2d, ReLU, pooling, ... become call_function nodes (F.conv2d, F.linear,
F.batch_norm, F.relu, ...) reading their parameters and buffers through get_attr nodes: the
closest 1.13 gets to PT2E's exported graphs, where conv2d(x, weight, bias) takes its weight as a
graph input (the PT2E flow, docs/pt2e.md). Default graph name `<model>.functional`.

This file is also imported by tools/torch_reference.py, which must trace identically.
"""

import argparse
import importlib.util
import json
import math
import operator
import os
import sys
import types

import torch
import torch.fx
import torch.nn.functional as F
from torch.ao.quantization.fx.tracer import QuantizationTracer
from torch.ao.quantization.fx.utils import get_skipped_module_name_and_classes
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
from torch.ao.quantization.quantize_fx import _swap_ff_with_fxff

QG_VERSION = 1

# ----------------------------------------------------------------------------------------------
# Loading models and inputs


def load_module(path):
    """Imports a .py file as a module named after the file's stem (so a class defined there has
    type `<stem>.<Class>`); registered in sys.modules so deepcopy and pickling find it."""
    if not os.path.isfile(path):
        raise SystemExit(f"error: no such file: {path}")
    stem = os.path.splitext(os.path.basename(path))[0]
    mod = sys.modules.get(stem)
    if mod is not None and getattr(mod, "__file__", None) == os.path.abspath(path):
        return mod
    module_spec = importlib.util.spec_from_file_location(stem, os.path.abspath(path))
    mod = importlib.util.module_from_spec(module_spec)
    sys.modules[stem] = mod
    module_spec.loader.exec_module(mod)
    return mod


def load_python_object(spec):
    """Returns the object named by 'path/to/file.py:NAME'."""
    if ":" not in spec:
        raise SystemExit(f"error: expected FILE.py:NAME, got {spec!r}")
    path, name = spec.rsplit(":", 1)
    mod = load_module(path)
    if not hasattr(mod, name):
        raise SystemExit(f"error: {path} has no {name}")
    return getattr(mod, name)


def build_model(torchvision_name=None, model_spec=None, train=False):
    """Constructs the model (never fetching weights) in eval or train mode. Returns
    (model, default_graph_name)."""
    torch.manual_seed(0)
    if torchvision_name:
        import torchvision.models as tvm
        kwargs = {"weights": None}
        # inception_v3 / googlenet build aux heads and init weights with scipy-free code when
        # weights=None; keep their defaults so the traced graph is the model people use.
        model = tvm.get_model(torchvision_name, **kwargs)
        name = torchvision_name
    else:
        factory = load_python_object(model_spec)
        model = factory()
        name = model_spec.rsplit(":", 1)[1]
    if not isinstance(model, torch.nn.Module):
        raise SystemExit("error: the factory did not return an nn.Module")
    model.train(train)
    return model, name


_DTYPES = {"float32": torch.float32, "float": torch.float32, "float64": torch.float64,
           "float16": torch.float16, "int64": torch.int64, "long": torch.int64,
           "int32": torch.int32, "int": torch.int32, "bool": torch.bool, "uint8": torch.uint8}


def parse_input_shape(text):
    """'1,3,224,224' or 'int64:4,10' -> (dtype, shape)."""
    dtype = torch.float32
    if ":" in text:
        dname, text = text.split(":", 1)
        if dname not in _DTYPES:
            raise SystemExit(f"error: unknown input dtype {dname!r}")
        dtype = _DTYPES[dname]
    shape = [int(s) for s in text.split(",") if s.strip()] if text.strip() else []
    return dtype, shape


def make_example_inputs(specs):
    """Deterministic example tensors for the given (dtype, shape) specs."""
    gen = torch.Generator().manual_seed(0)
    inputs = []
    for dtype, shape in specs:
        if dtype.is_floating_point:
            inputs.append(torch.randn(shape, generator=gen).to(dtype))
        elif dtype == torch.bool:
            inputs.append(torch.randint(0, 2, shape, generator=gen).bool())
        else:
            inputs.append(torch.randint(0, 10, shape, generator=gen).to(dtype))
    return tuple(inputs)


# ----------------------------------------------------------------------------------------------
# Tracing exactly like prepare_fx


def trace_like_prepare(model, prepare_custom_config=None, tracer_class=QuantizationTracer):
    """Traces `model` the way 1.13's _prepare_fx does before fusion. Mutates `model` the same way
    prepare_fx does (FloatFunctional -> FXFloatFunctional). Returns (GraphModule, tracer); the
    tracer's node_name_to_scope holds (module path, module type) per node name."""
    if prepare_custom_config is None:
        prepare_custom_config = PrepareCustomConfig()
    elif isinstance(prepare_custom_config, dict):
        prepare_custom_config = PrepareCustomConfig.from_dict(prepare_custom_config)
    _swap_ff_with_fxff(model)
    skipped_names, skipped_classes = get_skipped_module_name_and_classes(
        prepare_custom_config, False)
    tracer = tracer_class(skipped_names, skipped_classes)
    graph = tracer.trace(model)
    gm = torch.fx.GraphModule(model, graph)
    return gm, tracer


class FunctionalTracer(QuantizationTracer):
    """QuantizationTracer (so node_name_to_scope records the innermost module each node was
    traced in, like export's nn_module_stack) with no torch.nn leaf modules: every module is
    traced through, so layers become the functions their forward calls. Only the modules a
    PrepareCustomConfig skips stay leaves (they cannot be traced)."""

    def is_leaf_module(self, m, module_qualified_name):
        return (module_qualified_name in self.skipped_module_names
                or type(m) in self.skipped_module_classes)

    def call_module(self, m, forward, args, kwargs):
        # BatchNorm checks the input's rank in Python (`input.dim() != 4`), which a Proxy cannot
        # answer. The check only raises on bad input and never reaches a graph (export drops it
        # too), so it is skipped while the module is traced. Other shape-dependent Python
        # control flow (InstanceNorm's no-batch-dim test) still fails to trace.
        if type(m).__module__.startswith("torch.nn.") and hasattr(m, "_check_input_dim") \
                and "_check_input_dim" not in m.__dict__:
            m.__dict__["_check_input_dim"] = lambda input: None
            try:
                return super().call_module(m, forward, args, kwargs)
            finally:
                del m.__dict__["_check_input_dim"]
        return super().call_module(m, forward, args, kwargs)


def trace_functional(model, prepare_custom_config=None):
    """Like trace_like_prepare, but with FunctionalTracer: torch.nn layers become call_function
    nodes with get_attr nodes for their parameters and buffers."""
    return trace_like_prepare(model, prepare_custom_config, tracer_class=FunctionalTracer)


# ----------------------------------------------------------------------------------------------
# Canonical function names: first public name among operator, torch.nn.functional, torch (within
# a module: the object's own __name__ first, then sorted order), else FX's qualified name. Built once; keyed by id() with the object
# kept alive so ids cannot be reused.

_FUNCTION_NAMES = None


def _function_names():
    global _FUNCTION_NAMES
    if _FUNCTION_NAMES is None:
        table = {}
        for modname, mod in (("operator", operator), ("torch.nn.functional", F), ("torch", torch)):
            found = []
            for attr in dir(mod):
                if attr.startswith("_"):
                    continue
                try:
                    obj = getattr(mod, attr)
                except Exception:  # some lazy attributes raise on access
                    continue
                if isinstance(obj, types.ModuleType) or not callable(obj):
                    continue
                # Within one module, the name the object calls itself wins over aliases and
                # leftovers (torch.obj is torch.zeros_like, a loop variable of torch/__init__);
                # then alphabetical order.
                found.append((attr != getattr(obj, "__name__", None), attr, obj))
            for _, attr, obj in sorted(found, key=lambda t: (t[0], t[1])):
                table.setdefault(id(obj), (obj, f"{modname}.{attr}"))
        _FUNCTION_NAMES = table
    return _FUNCTION_NAMES


def canonical_function_name(fn):
    hit = _function_names().get(id(fn))
    if hit is not None and hit[0] is fn:
        return hit[1]
    return torch.fx.node._get_qualified_name(fn)


def module_type_name(m):
    t = type(m)
    return f"{t.__module__}.{t.__qualname__}"


# ----------------------------------------------------------------------------------------------
# .qg lexical forms (docs/qg-format.md, "Canonical form")


def _is_ident(s):
    return bool(s) and (s[0].isalpha() or s[0] == "_") and s.isascii() and \
        all(c.isalnum() or c == "_" for c in s)


def _is_dotted(s):
    if not s:
        return False
    return all(_is_ident(p) or (p.isdigit() and p.isascii()) for p in s.split("."))


def qg_string(s):
    return json.dumps(s, ensure_ascii=True)


def qg_float(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))  # shortest round-trip, always has '.' or 'e'


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def qg_value(v):
    """One argument / attribute value in .qg syntax."""
    if isinstance(v, torch.fx.Node):
        return "%" + v.name
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        if _INT64_MIN <= v <= _INT64_MAX:
            return str(v)
        return f"opaque({qg_string(repr(v))})"
    if isinstance(v, float):
        return qg_float(v)
    if isinstance(v, str):
        return qg_string(v)
    if isinstance(v, torch.dtype):
        return str(v)  # torch.float32: canonical spelling of the dtype object
    if isinstance(v, list):
        return "[" + ", ".join(qg_value(x) for x in v) + "]"
    if isinstance(v, tuple):
        if len(v) == 1:
            return "(" + qg_value(v[0]) + ",)"
        return "(" + ", ".join(qg_value(x) for x in v) + ")"
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return "{" + ", ".join(f"{qg_string(k)}: {qg_value(x)}" for k, x in v.items()) + "}"
        return f"opaque({qg_string(repr(v))})"
    if isinstance(v, slice):
        return f"slice({qg_value(v.start)}, {qg_value(v.stop)}, {qg_value(v.step)})"
    if v is Ellipsis:
        return "..."
    return f"opaque({qg_string(repr(v))})"


def count_node_refs(v):
    """Node references inside an argument structure, repeats counted (= .qg edges)."""
    if isinstance(v, torch.fx.Node):
        return 1
    if isinstance(v, (list, tuple)):
        return sum(count_node_refs(x) for x in v)
    if isinstance(v, dict):
        return sum(count_node_refs(x) for x in v.values())
    if isinstance(v, slice):
        return count_node_refs(v.start) + count_node_refs(v.stop) + count_node_refs(v.step)
    return 0


def qg_target(s):
    return s if _is_dotted(s) else qg_string(s)


def qg_module_path(p):
    return "<root>" if not p else qg_target(p)


# ----------------------------------------------------------------------------------------------
# Result metadata (shape propagation)


def meta_of(value):
    """The .qg meta_type of a node's result."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        return f"{dtype}[{', '.join(str(int(d)) for d in value.shape)}]"
    if isinstance(value, (tuple, list)) and not isinstance(value, torch.Size):
        items = [meta_of(x) for x in value]
        if len(items) == 1:
            return "(" + items[0] + ",)"
        return "(" + ", ".join(items) + ")"
    return type(value).__name__


class _MetaRecorder(torch.fx.Interpreter):
    """Runs the graph like ShapeProp and keeps each node's result metadata."""

    def __init__(self, gm):
        super().__init__(gm)
        self.metas = {}

    def run_node(self, n):
        result = super().run_node(n)
        if n.op != "output":
            self.metas[n.name] = meta_of(result)
        return result


def propagate_meta(gm, example_inputs):
    recorder = _MetaRecorder(gm)
    with torch.no_grad():
        recorder.run(*example_inputs)
    return recorder.metas


# ----------------------------------------------------------------------------------------------
# Module attributes (docs/qg-format.md "Meaning": the attributes rules may need)

_MODULE_ATTRS = (
    "in_channels", "out_channels", "in_features", "out_features", "num_embeddings",
    "embedding_dim", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
    "num_features", "normalized_shape", "num_groups", "num_channels", "affine",
    "elementwise_affine", "track_running_stats", "eps", "inplace",
)


def module_attrs(m):
    """(name, value) pairs for a module line, in a fixed order."""
    attrs = []
    is_torch_module = type(m).__module__.startswith("torch.")
    if is_torch_module:
        for name in _MODULE_ATTRS:
            if name not in m.__dict__ and name not in m._parameters and name not in m._buffers:
                continue
            v = getattr(m, name)
            if name == "bias":
                # Whether there is one; only for layers with a weight matrix (conv / linear),
                # norms' bias is their affine shift.
                if not hasattr(m, "in_channels") and not hasattr(m, "in_features"):
                    continue
                if isinstance(v, torch.Tensor) or v is None:
                    v = v is not None
                elif not isinstance(v, bool):
                    continue
            if isinstance(v, torch.Tensor):
                continue
            if isinstance(v, (bool, int, float, str, tuple, list)) or v is None:
                attrs.append((name, v))
        w = m._parameters.get("weight", None) if hasattr(m, "_parameters") else None
        if isinstance(w, torch.Tensor):
            attrs.append(("weight_shape", [int(d) for d in w.shape]))
    if m.training:
        attrs.append(("training", True))
    return attrs


def _all_module_paths(root):
    """Every submodule path in hierarchical order, without de-duplicating shared objects."""
    order = []

    def walk(m, prefix):
        order.append(prefix)
        for name, child in m._modules.items():
            if child is not None:
                walk(child, f"{prefix}.{name}" if prefix else name)

    walk(root, "")
    return order


# ----------------------------------------------------------------------------------------------
# Writing .qg and the summary


def graph_to_qg(gm, tracer, root, graph_name, metas):
    """Returns (qg_text, summary_dict) for a traced GraphModule. `root` is the traced model (its
    module objects are the ones the graph's call_module targets name)."""
    graph = gm.graph
    scopes = tracer.node_name_to_scope
    referenced = {""}
    for n in graph.nodes:
        path, _ = scopes.get(n.name, ("", None))
        referenced.add(path)
        if n.op == "call_module":
            referenced.add(n.target)
    order = {p: i for i, p in enumerate(_all_module_paths(root))}
    missing = [p for p in referenced if p not in order]
    if missing:
        raise ValueError(f"scope/target paths not found among submodules: {missing}")
    paths = sorted(referenced, key=lambda p: order[p])

    lines = [f"qgraph {QG_VERSION}"]
    gname = graph_name if graph_name and all(c.isalnum() or c in "_.-" for c in graph_name) \
        and graph_name.isascii() else qg_string(graph_name)
    lines.append(f"graph {gname}")
    module_types = {}
    for p in paths:
        m = root.get_submodule(p) if p else root
        module_types[p] = module_type_name(m)
        # Paths that are not dotted names (regnet's `block1-0`) are written as JSON strings; this
        # needs module_path := '<root>' | dotted_name | STRING in docs/qg-format.md.
        head = f"module {qg_module_path(p)} : {module_types[p]}"
        attrs = module_attrs(m)
        if attrs:
            head += "(" + ", ".join(f"{k}={qg_value(v)}" for k, v in attrs) + ")"
        lines.append(head)
    lines.append("")

    by_kind, by_op = {}, {}
    edges = 0
    num_nodes = 0
    for n in graph.nodes:
        num_nodes += 1
        if n.op == "call_function":
            target = canonical_function_name(n.target)
            op_key = target
        elif n.op == "call_module":
            target = n.target
            op_key = module_types[n.target]
        elif n.op == "call_method":
            target = n.target
            op_key = target
        elif n.op == "output":
            target = "output"
            op_key = n.op
        else:
            target = str(n.target)
            op_key = n.op
        by_kind[n.op] = by_kind.get(n.op, 0) + 1
        by_op[op_key] = by_op.get(op_key, 0) + 1
        edges += count_node_refs(n.args) + count_node_refs(n.kwargs)
        parts = [qg_value(a) for a in n.args]
        parts += [f"{k}={qg_value(v)}" for k, v in n.kwargs.items()]
        line = f"%{n.name} = {n.op}[{qg_target(target)}]({', '.join(parts)})"
        if n.op != "output" and n.name in metas:
            line += f" -> {metas[n.name]}"
        scope_path = scopes.get(n.name, ("", None))[0]
        if scope_path:
            line += f" @{qg_module_path(scope_path)}"
        lines.append(line)
    text = "\n".join(lines) + "\n"
    summary = {
        "graph": graph_name,
        "nodes": num_nodes,
        "edges": edges,
        "modules": len(paths),
        "by_kind": dict(sorted(by_kind.items())),
        "by_op": dict(sorted(by_op.items())),
    }
    return text, summary


def export(model, example_inputs, graph_name, prepare_custom_config=None, functional=False):
    """Traces `model` (mutated as prepare_fx would) and returns (qg_text, summary, gm, tracer).
    With `functional`, traces through the torch.nn layers (trace_functional)."""
    trace = trace_functional if functional else trace_like_prepare
    gm, tracer = trace(model, prepare_custom_config)
    metas = propagate_meta(gm, example_inputs)
    text, summary = graph_to_qg(gm, tracer, model, graph_name, metas)
    return text, summary, gm, tracer


def write_file(path, text):
    """Writes via a temporary file so a failed run never leaves a partial output."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def add_model_args(p):
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--torchvision", metavar="NAME", help="a torchvision classification model")
    src.add_argument("--model", metavar="FILE.py:FACTORY",
                     help="a function returning an nn.Module")
    p.add_argument("--input-shape", action="append", default=[], metavar="[DTYPE:]D0,D1,...",
                   help="one per positional input; default 1,3,224,224")
    p.add_argument("--prepare-custom-config", metavar="FILE.py:FACTORY",
                   help="a function returning the PrepareCustomConfig prepare_fx gets")
    p.add_argument("--name", help="graph name (default: the model's name)")


def example_inputs_from_args(args):
    shapes = args.input_shape or ["1,3,224,224"]
    return make_example_inputs([parse_input_shape(s) for s in shapes])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_args(p)
    p.add_argument("--train", action="store_true", help="trace in train mode (QAT)")
    p.add_argument("--functional", action="store_true",
                   help="trace through torch.nn layers: F.conv2d / F.linear / F.batch_norm ... "
                        "with get_attr weights (PT2E-like graphs); default name <model>.functional")
    p.add_argument("-o", "--output", required=True, metavar="OUT.qg")
    p.add_argument("--summary", metavar="OUT.json")
    args = p.parse_args(argv)

    model, default_name = build_model(args.torchvision, args.model, args.train)
    pcc = load_python_object(args.prepare_custom_config)() if args.prepare_custom_config else None
    example_inputs = example_inputs_from_args(args)
    if args.functional:
        default_name += ".functional"
    text, summary, _, _ = export(model, example_inputs, args.name or default_name, pcc,
                                 functional=args.functional)
    write_file(args.output, text)
    if args.summary:
        write_file(args.summary, json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
