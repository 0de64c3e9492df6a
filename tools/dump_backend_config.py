#!/usr/bin/python3
"""Dumps PyTorch's native backend configs and default qconfig mappings as canonical JSON.

This is the oracle for the bundled rule files (backends/*.qr, backends/qconfig/*.qr):
tests/backends/backend_rules_test.cc compiles each rule file with the real rule compiler and
compares the lowered engine::PrepareConfig with the JSON written here, field by field.

What is dumped (PyTorch 1.13.1, Debian's python3-torch):
  - BackendConfigs: get_native_backend_config, get_fbgemm_backend_config,
    get_x86_backend_config, get_qnnpack_backend_config, and get_onednn_backend_config when the
    installed PyTorch has it (1.13 does not). Every entry of `BackendConfig.configs` (a dict keyed
    by pattern: a later set_backend_pattern_config for an equal pattern replaces the value and
    keeps the first position, so this is the *effective* config PyTorch's prepare reads).
  - QConfigMappings: get_default_qconfig_mapping(name) and get_default_qat_qconfig_mapping(name)
    for fbgemm, x86, qnnpack, onednn.

Canonical forms (shared with the C++ side, engine/prepare_config.h):
  - an op is "module:<__module__.__qualname__>", "function:<canonical name>" (docs/qg-format.md:
    first public name among operator, torch.nn.functional, torch; else FX's qualified name, the
    same function tools/export_fx.py uses), "method:<name>", or "MatchAllNode";
  - a pattern is PyTorch's reversed nested tuple as nested JSON arrays of ops
    (["module:...ReLU", ["module:...BatchNorm2d", "module:...Conv2d"]]); a leaf is a plain string;
  - an observer is {"class", "written", "effective"[, "observer"]}: `written` are the keyword
    arguments PyTorch's `with_args` was given (a fake-quant's inner observer partial is flattened
    into observer=<class> plus its keywords, which is how common/observer_spec.h's
    MakeObserverSpec takes them), `effective` what an instance holds (tools/torch_reference.py's
    describe_observer: the plan's vocabulary);
  - a fuser method is {"name", "eval", "qat"}: the PyTorch function's name ("sequential" for
    reverse_sequential_wrapper2(X)), and the type the fuser actually returns when called on fresh
    modules of the pattern's types with is_qat False / True (null if it raises, as
    fuse_convtranspose_bn does in QAT).

Usage (regenerates the committed golden; --check only compares, exit 1 when it is stale):
  /usr/bin/python3 tools/dump_backend_config.py -o tests/backends/data/pytorch_backend_configs.json
  /usr/bin/python3 tools/dump_backend_config.py --check tests/backends/data/pytorch_backend_configs.json
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_fx  # noqa: E402  (canonical function names)
import torch_reference  # noqa: E402  (effective observer arguments)

import torch  # noqa: E402
import torch.ao.quantization as tq  # noqa: E402
from torch.ao.quantization import backend_config as bc  # noqa: E402
from torch.ao.quantization.observer import _PartialWrapper  # noqa: E402
from torch.ao.quantization.utils import MatchAllNode  # noqa: E402

FORMAT = "qprep.backend_configs"
BACKEND_GETTERS = [
    ("native", "torch.ao.quantization.backend_config.native", "get_native_backend_config"),
    ("fbgemm", "torch.ao.quantization.backend_config.fbgemm", "get_fbgemm_backend_config"),
    ("x86", "torch.ao.quantization.backend_config.x86", "get_x86_backend_config"),
    ("qnnpack", "torch.ao.quantization.backend_config.qnnpack", "get_qnnpack_backend_config"),
    ("onednn", "torch.ao.quantization.backend_config.onednn", "get_onednn_backend_config"),
]
QCONFIG_BACKENDS = ["fbgemm", "x86", "qnnpack", "onednn"]


# ----------------------------------------------------------------------------------------------
# Ops and patterns


def type_name(t):
    return f"{t.__module__}.{t.__qualname__}"


def op_name(op):
    if op is MatchAllNode:
        return "MatchAllNode"
    if isinstance(op, str):
        return f"method:{op}"
    if isinstance(op, type):
        return f"module:{type_name(op)}"
    return f"function:{export_fx.canonical_function_name(op)}"


def pattern_json(p):
    if isinstance(p, tuple):
        return [pattern_json(x) for x in p]
    return op_name(p)


def pattern_text(p):
    """The text engine::Pattern::ToString() prints: (op, (op, op))."""
    if isinstance(p, tuple):
        return "(" + ", ".join(pattern_text(x) for x in p) + ")"
    return op_name(p)


# ----------------------------------------------------------------------------------------------
# Dtypes


def dtype_name(d):
    if d is None:
        return None
    return {torch.float: "float32", torch.float16: "float16"}.get(d, str(d).replace("torch.", ""))


def dtype_with_constraints(c):
    out = {"dtype": dtype_name(c.dtype)}
    for k in ("quant_min_lower_bound", "quant_max_upper_bound", "scale_min_lower_bound",
              "scale_max_upper_bound", "scale_exact_match", "zero_point_exact_match"):
        v = getattr(c, k, None)
        if v is not None:
            out[k] = v
    return out


def dtype_config(dc):
    return {
        "input": dtype_with_constraints(dc.input_dtype_with_constraints),
        "output": dtype_with_constraints(dc.output_dtype_with_constraints),
        "weight": dtype_with_constraints(dc.weight_dtype_with_constraints),
        "bias": dtype_name(dc.bias_dtype),
        "is_dynamic": dc.is_dynamic,
    }


# ----------------------------------------------------------------------------------------------
# Observers


def _written_value(v):
    if isinstance(v, torch.dtype):
        return dtype_name(v)
    if isinstance(v, torch.qscheme):
        return str(v).replace("torch.", "")
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    raise SystemExit(f"error: cannot dump observer argument {v!r}")


def written_args(ctor):
    """(class, keyword args as given) of a _PartialWrapper or a bare class."""
    if isinstance(ctor, type):
        return ctor.__name__, {}
    if not isinstance(ctor, _PartialWrapper):
        raise SystemExit(f"error: cannot dump observer constructor {ctor!r}")
    if ctor.callable_args:
        raise SystemExit(f"error: with_callable_args is not supported: {ctor!r}")
    cls = ctor.p.func
    args = {}
    for k, v in ctor.p.keywords.items():
        if k == "observer":
            inner_cls, inner_args = written_args(v)
            args["observer"] = inner_cls
            for ik, iv in inner_args.items():
                args.setdefault(ik, iv)
        else:
            args[k] = _written_value(v)
    return cls.__name__, args


def observer_json(ctor):
    if ctor is None:
        return None
    cls, written = written_args(ctor)
    d = torch_reference.describe_observer(ctor())
    out = {"class": cls, "written": written, "effective": d["args"]}
    if "observer" in d:
        out["observer"] = d["observer"]
    return out


def qconfig_json(q):
    if q is None:
        return None
    return {"activation": observer_json(q.activation), "weight": observer_json(q.weight)}


# ----------------------------------------------------------------------------------------------
# Fuser methods


def _instance(op, ndim_hint):
    """A small module of the pattern op's type (functional relu becomes nn.ReLU, as PyTorch's
    DefaultFuseHandler does)."""
    if op is torch.nn.functional.relu or op is torch.relu:
        return torch.nn.ReLU()
    if not isinstance(op, type):
        raise SystemExit(f"error: no instance for fusion op {op!r}")
    if issubclass(op, torch.nn.modules.conv._ConvNd):
        return op(2, 2, 1)
    if issubclass(op, torch.nn.modules.batchnorm._BatchNorm):
        return op(2)
    if op is torch.nn.Linear:
        return op(2, 2)
    return op()


def _instances(pattern):
    if isinstance(pattern, tuple):
        return tuple(_instances(p) for p in pattern)
    return _instance(pattern, None)


def _set_mode(x, training):
    if isinstance(x, tuple):
        for y in x:
            _set_mode(y, training)
    else:
        x.train(training)


def fuser_json(fuser, pattern):
    if fuser is None:
        return None
    name = fuser.__name__
    cells = {}
    if fuser.__closure__:
        cells = dict(zip(fuser.__code__.co_freevars, (c.cell_contents for c in fuser.__closure__)))
    if name == "fuser_method" and "sequential" in cells:
        name = "sequential"
    elif name == "reversed" and "f" in cells:
        name = cells["f"].__name__
    result = {"name": name}
    for mode, is_qat in (("eval", False), ("qat", True)):
        mods = _instances(pattern)
        _set_mode(mods, is_qat)
        try:
            fused = fuser(is_qat, *mods)
            result[mode] = type_name(type(fused))
        except Exception:  # PyTorch refuses this fusion in this mode
            result[mode] = None
    return result


# ----------------------------------------------------------------------------------------------
# Backend configs and qconfig mappings


def pattern_config_json(c):
    def mod(t):
        return None if t is None else type_name(t)

    return {
        "pattern": pattern_json(c.pattern),
        "pattern_text": pattern_text(c.pattern),
        "observation_type": c.observation_type.name.lower(),
        "dtype_configs": [dtype_config(d) for d in c.dtype_configs],
        "root_module": mod(c.root_module),
        "qat_module": mod(c.qat_module),
        "reference_quantized_module": mod(c.reference_quantized_module),
        "fused_module": mod(c.fused_module),
        "fuser_method": fuser_json(c.fuser_method, c.pattern),
        "root_node_getter": None if c._root_node_getter is None else c._root_node_getter.__name__,
        "extra_inputs_getter":
            None if c._extra_inputs_getter is None else c._extra_inputs_getter.__name__,
        "input_type_to_index": dict(c._input_type_to_index),
        "num_tensor_args_to_observation_type": {
            str(k): v.name.lower() for k, v in c._num_tensor_args_to_observation_type.items()},
        "input_output_observed": c._input_output_observed,
        "overwrite_output_observer": observer_json(c._overwrite_output_observer),
        "overwrite_output_fake_quantize": observer_json(c._overwrite_output_fake_quantize),
    }


def backend_json(getter):
    cfg = getter()
    return {"name": cfg.name, "configs": [pattern_config_json(c) for c in cfg.configs.values()]}


def mapping_json(m):
    return {
        "global": qconfig_json(m.global_qconfig),
        "object_type": [{"object_type": op_name(k), "qconfig": qconfig_json(q)}
                        for k, q in m.object_type_qconfigs.items()],
        "module_name_regex": [{"regex": k, "qconfig": qconfig_json(q)}
                              for k, q in m.module_name_regex_qconfigs.items()],
        "module_name": [{"module_name": k, "qconfig": qconfig_json(q)}
                        for k, q in m.module_name_qconfigs.items()],
        "module_name_object_type_order": [
            {"module_name": k[0], "object_type": op_name(k[1]), "index": k[2],
             "qconfig": qconfig_json(q)}
            for k, q in m.module_name_object_type_order_qconfigs.items()],
    }


def dump():
    import importlib
    out = {"format": FORMAT, "torch_version": torch.__version__, "backends": {},
           "missing_backends": [], "qconfig_mappings": {}, "qat_qconfig_mappings": {}}
    for name, module, fn in BACKEND_GETTERS:
        try:
            getter = getattr(importlib.import_module(module), fn)
        except (ImportError, AttributeError):
            out["missing_backends"].append(name)
            continue
        out["backends"][name] = backend_json(getter)
    for name in QCONFIG_BACKENDS:
        out["qconfig_mappings"][name] = mapping_json(tq.get_default_qconfig_mapping(name))
        out["qat_qconfig_mappings"][name] = mapping_json(tq.get_default_qat_qconfig_mapping(name))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", help="JSON file to write (default: stdout)")
    ap.add_argument("--check", metavar="GOLDEN",
                    help="compare with GOLDEN instead of writing; exit 1 if it differs")
    args = ap.parse_args(argv)
    text = json.dumps(dump(), indent=1, sort_keys=False) + "\n"
    if args.check:
        with open(args.check) as f:
            if f.read() != text:
                sys.stderr.write(f"{args.check} is stale for PyTorch {torch.__version__}: "
                                 f"regenerate with {sys.argv[0]} -o {args.check}\n")
                sys.exit(1)
        return
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
