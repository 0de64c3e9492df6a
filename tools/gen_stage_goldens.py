#!/usr/bin/python3
"""PyTorch 1.13's own results for qprep's built-in prepare stages, as JSON goldens for
tests/prepare/ (engine/fusion.h, engine/qconfig_resolution.h, engine/matcher.h).

For each case of tools/gen_goldens.py (same models, inputs, backends, qconfig mappings and
PrepareCustomConfigs, traced by tools/export_fx.py exactly as prepare_fx traces) it runs PyTorch's
own stage functions on the traced graph:
  - fx/fuse.py `_find_matches` + `fuse` (the fused graph, and which input nodes each fused node
    absorbed; under QAT the module types after prepare's propagate_qconfig_ + qat_swap_modules);
  - qconfig_mapping_utils `update_qconfig_for_fusion` + `generate_qconfig_map` (a qconfig per
    fused-graph node, named by a signature of its observers);
  - match_utils `find_matches` with the sorted pattern table (root / last node and pattern per
    node; standalone and custom modules);
and writes tests/prepare/data/<case>.stages.json. It also dumps each BackendConfig once as
tests/prepare/data/backend.<name>.json (patterns in the reversed nested-tuple form with .qg op
names, observation types, dtype configs, fuser methods classified by running them on small
modules in eval and in QAT mode), which the tests load into engine::BackendConfig, so the stages
are checked against PyTorch's own pattern set independently of the rule files.

The graph each golden is about is the committed tests/parity/data/<graph>.qg; the script checks
that a fresh export equals it (it fails otherwise: regenerate the parity goldens first).

Usage (regenerate everything, or only some case ids):
  /usr/bin/python3 tools/gen_stage_goldens.py [--only resnet18.fbgemm,qconfig_regex]
"""

import argparse
import copy
import hashlib
import importlib
import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import export_fx  # noqa: E402
import gen_goldens  # noqa: E402
import torch_reference  # noqa: E402

import torch  # noqa: E402
from torch.ao.quantization.backend_config.backend_config import ObservationType  # noqa: E402
from torch.ao.quantization.backend_config.utils import (  # noqa: E402
    get_fusion_pattern_to_root_node_getter)
from torch.ao.quantization.fx.backend_config_utils import (  # noqa: E402
    get_fusion_pattern_to_fuse_handler_cls, get_pattern_to_quantize_handlers)
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig  # noqa: E402
from torch.ao.quantization.fx.match_utils import find_matches  # noqa: E402
from torch.ao.quantization.fx.pattern_utils import sorted_patterns_dict  # noqa: E402
from torch.ao.quantization.backend_config.utils import get_module_to_qat_module  # noqa: E402
from torch.ao.quantization.fx.prepare import qat_swap_modules  # noqa: E402
from torch.ao.quantization.fx.qconfig_mapping_utils import (  # noqa: E402
    generate_qconfig_map, update_qconfig_for_fusion)
from torch.ao.quantization.qconfig_mapping_utils import (  # noqa: E402
    get_flattened_qconfig_dict, update_qconfig_for_qat)
from torch.ao.quantization.quantize import propagate_qconfig_  # noqa: E402
from torch.ao.quantization.fx.utils import get_custom_module_class_keys  # noqa: E402
from torch.ao.quantization.qconfig_mapping import QConfigMapping  # noqa: E402
from torch.ao.quantization.utils import MatchAllNode  # noqa: E402

# torch.ao.quantization.fx re-exports the function `fuse` under the module's name.
fuse_mod = importlib.import_module("torch.ao.quantization.fx.fuse")

OUT = os.path.join(ROOT, "tests", "prepare", "data")
PARITY = os.path.join(ROOT, "tests", "parity", "data")
warnings.filterwarnings("ignore")


# ----------------------------------------------------------------------------------------------
# Ops and patterns, spelled as engine/prepare_config.h's OpRef::ToString / Pattern::ToString


def type_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def op_json(op):
    if isinstance(op, type) and issubclass(op, MatchAllNode):
        return {"kind": "any"}
    if isinstance(op, type) and issubclass(op, torch.nn.Module):
        return {"kind": "module", "name": type_name(op)}
    if isinstance(op, str):
        return {"kind": "method", "name": op}
    if callable(op):
        return {"kind": "function", "name": export_fx.canonical_function_name(op)}
    raise ValueError(f"unknown op {op!r}")


def op_text(op):
    j = op_json(op)
    return "MatchAllNode" if j["kind"] == "any" else f"{j['kind']}:{j['name']}"


def pattern_json(p):
    if isinstance(p, tuple):
        return {"op": op_json(p[0]), "args": [pattern_json(a) for a in p[1:]]}
    return {"op": op_json(p)}


def pattern_text(p):
    if isinstance(p, tuple):
        return "(" + ", ".join([op_text(p[0])] + [pattern_text(a) for a in p[1:]]) + ")"
    return op_text(p)


# ----------------------------------------------------------------------------------------------
# Backend config


_SAMPLE_ARGS = {
    "Conv1d": (1, 1, 1), "Conv2d": (1, 1, 1), "Conv3d": (1, 1, 1),
    "ConvTranspose1d": (1, 1, 1), "ConvTranspose2d": (1, 1, 1), "ConvTranspose3d": (1, 1, 1),
    "BatchNorm1d": (1,), "BatchNorm2d": (1,), "BatchNorm3d": (1,), "Linear": (1, 1),
}


def sample_modules(p, training):
    """Instances for a module pattern in the reversed nested form the fuser methods take."""
    if isinstance(p, tuple):
        return tuple(sample_modules(a, training) for a in p)
    if isinstance(p, type) and issubclass(p, torch.nn.Module):
        m = p(*_SAMPLE_ARGS.get(p.__name__, ()))
        m.train(training)
        return m
    if p is torch.nn.functional.relu:
        m = torch.nn.ReLU()
        m.train(training)
        return m
    raise ValueError(f"cannot instantiate {p!r}")


def root_type(p):
    while isinstance(p, tuple):
        p = p[-1]
    return p


def fuser_json(cfg):
    fm = cfg.fuser_method
    if fm is None:
        return {"kind": "none"}
    cells = [c.cell_contents for c in (fm.__closure__ or [])]
    inner = cells[0] if cells else fm
    name = getattr(inner, "__name__", repr(inner))
    results = {}
    for mode, training in (("eval", False), ("qat", True)):
        try:
            mods = sample_modules(cfg.pattern, training)
            args = mods if isinstance(mods, tuple) else (mods,)
            results[mode] = type_name(type(fm(training, *args)))
        except Exception:  # noqa: BLE001  (a mode the fuser does not support)
            results[mode] = None
    if isinstance(inner, type):
        return {"kind": "sequential", "name": inner.__name__, "eval": results["eval"],
                "qat": results["qat"]}
    rt = type_name(root_type(cfg.pattern))
    return {"kind": "fold_bn", "name": name,
            "eval": "" if results["eval"] == rt else results["eval"],
            "qat": results["qat"]}


OBS_TYPES = {
    ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT: "output_use_different_observer_as_input",
    ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT: "output_share_observer_with_input",
}


def dtype_json(d):
    return None if d is None else str(d).replace("torch.", "")


def constraints_json(dwc):
    out = {"dtype": dtype_json(dwc.dtype)}
    for k in ("quant_min_lower_bound", "quant_max_upper_bound", "scale_min_lower_bound",
              "scale_max_upper_bound", "scale_exact_match", "zero_point_exact_match"):
        v = getattr(dwc, k, None)
        if v is not None:
            out[k] = v
    return out


def observer_json(ctor):
    return None if ctor is None else torch_reference.describe_observer(ctor())


def backend_json(name):
    bc = torch_reference.backend_config_for(name)
    configs = []
    for cfg in bc.configs.values():
        configs.append({
            "pattern": pattern_json(cfg.pattern),
            "pattern_text": pattern_text(cfg.pattern),
            "observation_type": OBS_TYPES[cfg.observation_type],
            "dtype_configs": [{
                "input": constraints_json(dc.input_dtype_with_constraints),
                "output": constraints_json(dc.output_dtype_with_constraints),
                "weight": constraints_json(dc.weight_dtype_with_constraints),
                "bias": dtype_json(dc.bias_dtype),
                "is_dynamic": bool(dc.is_dynamic),
            } for dc in cfg.dtype_configs],
            "root_module": cfg.root_module and type_name(cfg.root_module),
            "qat_module": cfg.qat_module and type_name(cfg.qat_module),
            "fused_module": cfg.fused_module and type_name(cfg.fused_module),
            "fuser_method": fuser_json(cfg),
            "root_node_getter": None if cfg._root_node_getter is None else "custom",
            "input_type_to_index": dict(cfg._input_type_to_index),
            "num_tensor_args_to_observation_type": {
                str(k): OBS_TYPES[v] for k, v in cfg._num_tensor_args_to_observation_type.items()},
            "input_output_observed": cfg._input_output_observed,
            "overwrite_output_observer": observer_json(cfg._overwrite_output_observer),
            "overwrite_output_fake_quantize": observer_json(cfg._overwrite_output_fake_quantize),
        })
    return {"format": "qprep.stage_goldens.backend", "version": 1, "name": name,
            "generator": "tools/gen_stage_goldens.py", "configs": configs}


# ----------------------------------------------------------------------------------------------
# QConfigs


def qconfig_json(q):
    if q is None:
        return {"name": "none", "none": True}
    act = observer_json(q.activation)
    weight = observer_json(q.weight)
    digest = hashlib.sha1(json.dumps([act, weight], sort_keys=True).encode()).hexdigest()[:8]
    return {"name": f"{act['class']}+{weight['class']}#{digest}", "activation": act,
            "weight": weight}


def mapping_json(m):
    return {
        "global": None if m.global_qconfig is None else qconfig_json(m.global_qconfig),
        "object_type": [{"op": op_json(k), "qconfig": qconfig_json(v)}
                        for k, v in m.object_type_qconfigs.items()],
        "module_name_regex": [{"regex": k, "qconfig": qconfig_json(v)}
                              for k, v in m.module_name_regex_qconfigs.items()],
        "module_name": [{"module_name": k, "qconfig": qconfig_json(v)}
                        for k, v in m.module_name_qconfigs.items()],
        "module_name_object_type_order": [
            {"module_name": k[0], "op": op_json(k[1]), "index": k[2], "qconfig": qconfig_json(v)}
            for k, v in m.module_name_object_type_order_qconfigs.items()],
    }


# ----------------------------------------------------------------------------------------------
# One case


def node_names(np_):
    if isinstance(np_, torch.fx.Node):
        return [np_.name]
    if isinstance(np_, (list, tuple)):
        return [n for x in np_ for n in node_names(x)]
    return []


def run_case(case):
    model, _ = export_fx.build_model(case.get("torchvision"), case.get("model"), case["qat"])
    pcc = export_fx.load_python_object(case["prepare_custom_config"])() \
        if case.get("prepare_custom_config") else PrepareCustomConfig()
    if isinstance(pcc, dict):
        pcc = PrepareCustomConfig.from_dict(pcc)
    qcm = export_fx.load_python_object(case["qconfig_mapping"])() \
        if case.get("qconfig_mapping") else torch_reference.qconfig_mapping_for(
            case["backend"], case["qat"])
    if isinstance(qcm, dict):
        qcm = QConfigMapping.from_dict(qcm)
    example_inputs = export_fx.make_example_inputs(
        [export_fx.parse_input_shape(s) for s in case["inputs"]])
    qg_text, _, gm, tracer = export_fx.export(model, example_inputs, case["graph"], pcc)
    qg_path = os.path.join(PARITY, f"{case['graph']}.qg")
    with open(qg_path, encoding="ascii") as f:
        if f.read() != qg_text:
            raise SystemExit(f"error: {qg_path} differs from a fresh export; regenerate parity goldens")

    bc = torch_reference.backend_config_for(case["backend"])
    mapping = mapping_json(qcm)  # before update_qconfig_for_fusion mutates it

    # Fusion (fx/fuse.py), on a copy: fuse swaps modules in place.
    fusion_patterns = sorted_patterns_dict(get_fusion_pattern_to_fuse_handler_cls(bc))
    fuse_matches = fuse_mod._find_matches(gm, gm.graph, fusion_patterns)
    fused = fuse_mod.fuse(copy.deepcopy(gm), case["qat"], None, bc)

    # QConfig resolution, as prepare does it: update_qconfig_for_fusion, and under QAT
    # propagate_qconfig_ + qat_swap_modules + update_qconfig_for_qat before generate_qconfig_map.
    qcm_copy = copy.deepcopy(qcm)
    error = None
    qconfigs = {}
    try:
        update_qconfig_for_fusion(fused, qcm_copy)
        if case["qat"]:
            propagate_qconfig_(fused, get_flattened_qconfig_dict(qcm_copy), pcc.to_dict())
            qat_swap_modules(fused, get_module_to_qat_module(bc))
            update_qconfig_for_qat(qcm_copy, {})
        modules = dict(fused.named_modules(remove_duplicate=False))
        qmap = generate_qconfig_map(fused, modules, fused.graph, qcm_copy,
                                    tracer.node_name_to_scope)
        for n in fused.graph.nodes:
            if n.op in ("placeholder", "output"):
                continue
            qconfigs[n.name] = qconfig_json(qmap.get(n.name))["name"]
    except LookupError as e:
        error = str(e)

    fused_modules = dict(fused.named_modules(remove_duplicate=False))
    fused_names = {n.name for n in fused.graph.nodes}
    input_order = [x.name for x in gm.graph.nodes]
    fused_nodes = []
    for n in fused.graph.nodes:
        e = {"name": n.name, "op": n.op}
        if n.op == "call_module":
            e["module_type"] = type_name(type(fused_modules[n.target]))
        if n.name in fuse_matches:
            last, _, _, _, _ = fuse_matches[n.name]
            members = sorted((m for m, v in fuse_matches.items() if v[0] is last),
                             key=input_order.index)
            e["last"] = last.name
            e["members"] = members
        fused_nodes.append(e)
    absorbed = sorted(set(input_order) - fused_names)

    # Pattern matching.
    matches = {}
    if error is None:
        patterns = sorted_patterns_dict(get_pattern_to_quantize_handlers(bc))
        root_getters = get_fusion_pattern_to_root_node_getter(bc)
        modules = dict(fused.named_modules(remove_duplicate=False))
        mm = find_matches(fused.graph, modules, patterns, root_getters,
                          list(pcc.standalone_module_names.keys()),
                          list(pcc.standalone_module_classes.keys()),
                          get_custom_module_class_keys(pcc.float_to_observed_mapping))
        for name, (last, node_pattern, pattern, handler) in mm.items():
            e = {"last": last.name, "root": handler.root_node.name}
            if handler.is_standalone_module_:
                e["kind"] = "standalone"
            elif handler.is_custom_module_:
                e["kind"] = "custom"
            else:
                e["kind"] = "pattern"
                e["pattern"] = pattern_text(pattern)
            matches[name] = e

    out = {
        "format": "qprep.stage_goldens", "version": 1, "case": case["id"],
        "generator": "tools/gen_stage_goldens.py", "torch": torch.__version__,
        "qg": f"tests/parity/data/{case['graph']}.qg", "backend": case["backend"],
        "qat": case["qat"],
        "prepare_custom_config": {
            "input_quantized_idxs": list(pcc.input_quantized_indexes),
            "output_quantized_idxs": list(pcc.output_quantized_indexes),
            "standalone_module_names": list(pcc.standalone_module_names.keys()),
            "standalone_module_classes": [type_name(c) for c in pcc.standalone_module_classes],
            "custom_module_classes": [type_name(c) for c in get_custom_module_class_keys(
                pcc.float_to_observed_mapping)],
        },
        "qconfig_mapping": mapping,
        "fusion": {"nodes": fused_nodes, "absorbed": absorbed},
        "qconfigs": qconfigs,
        "matches": matches,
    }
    if error is not None:
        out["error"] = error
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", help="comma-separated case ids")
    args = p.parse_args()
    only = set(args.only.split(",")) if args.only else None
    os.makedirs(OUT, exist_ok=True)
    cases = gen_goldens.torchvision_cases() + gen_goldens.small_model_cases()
    backends = set()
    written = []
    for case in cases:
        if only and case["id"] not in only:
            continue
        if case.get("expect_error") and "fixed_qparams" in case["id"]:
            continue
        out = run_case(case)
        backends.add(case["backend"])
        path = os.path.join(OUT, f"{case['id']}.stages.json")
        export_fx.write_file(path, json.dumps(out, indent=1, sort_keys=False) + "\n")
        written.append(case["id"])
        print(f"{case['id']}: {len(out['fusion']['nodes'])} fused nodes, "
              f"{len(out['matches'])} matched" + (f", error: {out['error'][:60]}" if "error" in out else ""))
    for b in sorted(backends):
        export_fx.write_file(os.path.join(OUT, f"backend.{b}.json"),
                             json.dumps(backend_json(b), indent=1) + "\n")
    index_path = os.path.join(OUT, "index.json")
    listed = set(written)
    if only and os.path.exists(index_path):
        with open(index_path, encoding="ascii") as f:
            listed |= set(json.load(f)["cases"])
    export_fx.write_file(index_path, json.dumps({"format": "qprep.stage_goldens.index",
                                                 "version": 1, "cases": sorted(listed)},
                                                indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
