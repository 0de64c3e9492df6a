#!/usr/bin/python3
"""Regenerates the parity goldens in tests/parity/data/ from PyTorch 1.13.1 (the oracle).

For each case: the exported input graph (`<graph>.qg` + `<graph>.summary.json`, from
tools/export_fx.py's tracer, identical to what prepare_fx traces) and PyTorch's canonical
placement (`<case>.ref.json`, from tools/torch_reference.py), plus `index.json` listing every
case. Cases are the torchvision set (fbgemm and qnnpack), QAT (fbgemm), and the small models
under tests/models/*.py (each of those files declares its own `CASES`).

Rerun (Debian's python3-torch 1.13.1 and python3-torchvision 0.14.1; no downloads):
  /usr/bin/python3 tools/gen_goldens.py                 # every case (a few minutes)
  /usr/bin/python3 tools/gen_goldens.py --only resnet18 # cases whose id contains 'resnet18'
  /usr/bin/python3 tools/gen_goldens.py --check         # regenerate to a temp dir and compare
  /usr/bin/python3 tools/gen_goldens.py --survey        # tests/parity/data/torchvision_survey.json
  /usr/bin/python3 tools/gen_goldens.py --survey --survey-dir DIR --backends qnnpack,qat:fbgemm
The `torch_prepare_seconds` field is wall-clock time and changes from run to run; everything else
is deterministic. `--survey` exports and prepares (fbgemm) every torchvision classification model
and records which ones work, their sizes and prepare_fx times; with `--survey-dir DIR` it also
keeps every model's .qg and reference JSON there (not committed: too large); `--backends` makes
references for other backends and QAT there instead (survey_configs).
"""

import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys
import time
import traceback
import warnings

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
import export_fx  # noqa: E402
import torch_reference  # noqa: E402

import torch  # noqa: E402
import torchvision  # noqa: E402

DATA = os.path.join(ROOT, "tests", "parity", "data")

TORCHVISION_SET = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "googlenet",
                   "inception_v3", "densenet121"]
QAT_SET = ["resnet18", "mobilenet_v2"]
# Input-weight equalization: prepare_fx(..., _equalization_config=QConfigMapping().set_global(
# default_equalization_qconfig)), fbgemm.
EQUALIZATION_SET = ["resnet18", "mobilenet_v2"]


def input_shape_for(name):
    return "1,3,299,299" if name == "inception_v3" else "1,3,224,224"


def torchvision_cases():
    cases = []
    for backend in ("fbgemm", "qnnpack"):
        for name in TORCHVISION_SET:
            cases.append({"id": f"{name}.{backend}", "torchvision": name, "graph": name,
                          "inputs": [input_shape_for(name)], "backend": backend, "qat": False})
    for name in QAT_SET:
        cases.append({"id": f"{name}.qat.fbgemm", "torchvision": name, "graph": f"{name}.train",
                      "inputs": [input_shape_for(name)], "backend": "fbgemm", "qat": True})
    for name in EQUALIZATION_SET:
        cases.append({"id": f"{name}.equalization.fbgemm", "torchvision": name, "graph": name,
                      "inputs": [input_shape_for(name)], "backend": "fbgemm", "qat": False,
                      "equalization_config": "default"})
    return cases


def small_model_cases():
    """CASES declared by tests/models/*.py: dicts with id, factory, inputs and optionally
    backend, qat, qconfig_mapping, prepare_custom_config, notes (see tests/models/README)."""
    cases = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "models", "*.py"))):
        rel = os.path.relpath(path, ROOT)
        mod = export_fx.load_module(rel)
        for c in getattr(mod, "CASES", []):
            case = {"id": c["id"], "model": f"{rel}:{c['factory']}",
                    "graph": c.get("graph", c["id"]), "inputs": c["inputs"],
                    "backend": c.get("backend", "fbgemm"), "qat": c.get("qat", False),
                    "mirrors": c.get("mirrors", ""), "notes": c.get("notes", ""),
                    "expect_error": c.get("expect_error", False),
                    "differs_from_seed": c.get("differs_from_seed", "")}
            for k in ("qconfig_mapping", "prepare_custom_config", "equalization_config"):
                if c.get(k):
                    case[k] = f"{rel}:{c[k]}"
            cases.append(case)
    return cases


def _jsonable(v):
    """A readable JSON form of a PrepareCustomConfig's dict (classes by qualified name, tensors
    by shape, nested configs recursively)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    from torch.ao.quantization.backend_config import BackendConfig
    if isinstance(v, BackendConfig):
        # A standalone child's own backend: by name (its full dict holds object addresses).
        return f"BackendConfig(name={v.name!r})"
    if isinstance(v, type):
        return f"{v.__module__}.{v.__qualname__}"
    if isinstance(v, torch.Tensor):
        return f"tensor{list(v.shape)}"
    if isinstance(v, dict):
        return {str(_jsonable(k)): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "to_dict"):
        return _jsonable(v.to_dict())
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(v))  # addresses change from run to run


def _pcc_summary(pcc):
    if pcc is None:
        return None
    return {k: _jsonable(v) for k, v in pcc.to_dict().items() if v not in ({}, [], None)}


def versions():
    v = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version}\n",
                              "python3-torch", "python3-torchvision"],
                             capture_output=True, text=True, check=True).stdout.split()
        v["debian_packages"] = out
    except (OSError, subprocess.CalledProcessError):
        pass
    return v


def run_case(case, repeat, written_graphs, data_dir):
    model, _ = export_fx.build_model(case.get("torchvision"), case.get("model"), case["qat"])
    pcc = export_fx.load_python_object(case["prepare_custom_config"])() \
        if case.get("prepare_custom_config") else None
    qcm = export_fx.load_python_object(case["qconfig_mapping"])() \
        if case.get("qconfig_mapping") else None
    eq = None
    if case.get("equalization_config") == "default":
        eq = torch_reference.default_equalization_config()
    elif case.get("equalization_config"):
        eq = export_fx.load_python_object(case["equalization_config"])()
    example_inputs = export_fx.make_example_inputs(
        [export_fx.parse_input_shape(s) for s in case["inputs"]])
    graph_name = case["graph"]
    ref, qg_text, summary = torch_reference.reference(
        model, example_inputs, graph_name, case["backend"], case["qat"], qcm, pcc, repeat,
        case.get("expect_error", False), equalization_config=eq)
    qg_file = f"{graph_name}.qg"
    if qg_file in written_graphs and written_graphs[qg_file] != qg_text:
        raise RuntimeError(f"two cases write different graphs to {qg_file}")
    written_graphs[qg_file] = qg_text
    export_fx.write_file(os.path.join(data_dir, qg_file), qg_text)
    export_fx.write_file(os.path.join(data_dir, f"{graph_name}.summary.json"),
                         json.dumps(summary, indent=2) + "\n")
    ref_file = f"{case['id']}.ref.json"
    ref["case"] = case["id"]
    export_fx.write_file(os.path.join(data_dir, ref_file), torch_reference.dumps(ref))
    entry = {
        "id": case["id"],
        "qg": qg_file,
        "summary": f"{graph_name}.summary.json",
        "reference": ref_file,
        "source": case.get("torchvision") and f"torchvision.models.{case['torchvision']}"
        or case["model"],
        "inputs": case["inputs"],
        "backend": case["backend"],
        "qat": case["qat"],
        "qconfig_mapping": case.get("qconfig_mapping") or
        f"get_default_{'qat_' if case['qat'] else ''}qconfig_mapping("
        f"{'fbgemm' if case['backend'] == 'native' else case['backend']!r})",
        "prepare_custom_config": _pcc_summary(pcc),
        "observers": len(ref["observers"]),
        "insertions": len(ref["insertions"]),
        "nodes": summary["nodes"],
        "torch_prepare_seconds": ref.get("torch_prepare_seconds"),
    }
    if case.get("equalization_config"):
        # prepare_fx's _equalization_config: "default" is QConfigMapping().set_global(
        # default_equalization_qconfig); else the factory that built it.
        entry["equalization_config"] = case["equalization_config"]
    if "error" in ref:
        entry["error"] = ref["error"]
    for path in ref.get("standalone_modules", {}):
        # The child's own graph, traced as prepare traces it, so its placement can be compared.
        sm = pcc.standalone_module_names.get(path) or \
            pcc.standalone_module_classes.get(type(model.get_submodule(path)))
        child_text, child_summary, _, _ = export_fx.export(
            copy.deepcopy(model.get_submodule(path)), sm.example_inputs,
            f"{graph_name}.{path}", sm.prepare_custom_config)
        child_file = f"{graph_name}.{path}.qg"
        export_fx.write_file(os.path.join(data_dir, child_file), child_text)
        export_fx.write_file(os.path.join(data_dir, f"{graph_name}.{path}.summary.json"),
                             json.dumps(child_summary, indent=2) + "\n")
        entry.setdefault("standalone_qg", {})[path] = child_file
    for k in ("mirrors", "notes", "differs_from_seed"):
        if case.get(k):
            entry[k] = case[k]
    if ref.get("notes"):
        entry["reference_notes"] = ref["notes"]
    return entry


def generate(only, repeat, data_dir=DATA):
    os.makedirs(data_dir, exist_ok=True)
    index_path = os.path.join(data_dir, "index.json")
    old = {}
    if only and os.path.exists(index_path):
        with open(index_path) as f:
            old = {c["id"]: c for c in json.load(f)["cases"]}
    cases = torchvision_cases() + small_model_cases()
    written = {}
    entries = dict(old)
    failures = []
    for case in cases:
        if only and only not in case["id"]:
            continue
        start = time.time()
        try:
            entries[case["id"]] = run_case(case, repeat, written, data_dir)
            print(f"{case['id']}: {entries[case['id']]['insertions']} insertions, "
                  f"{time.time() - start:.1f}s", flush=True)
        except Exception:  # record and go on: one broken case must not hide the others
            failures.append(case["id"])
            print(f"{case['id']}: FAILED\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    order = [c["id"] for c in cases]
    index = {
        "format": "qprep.parity_index",
        "version": 1,
        "generator": "tools/gen_goldens.py",
        "versions": versions(),
        "cases": sorted(entries.values(),
                        key=lambda e: order.index(e["id"]) if e["id"] in order else 1 << 30),
    }
    export_fx.write_file(index_path, json.dumps(index, indent=1) + "\n")
    return 1 if failures else 0


# ----------------------------------------------------------------------------------------------
# The torchvision survey


def survey(out_dir, only, equalization=False):
    """With `equalization` (needs out_dir): prepare_fx with the default equalization config;
    only the .qg and reference files are written, torchvision_survey.json is left alone."""
    import torchvision.models as tvm
    eq = torch_reference.default_equalization_config() if equalization else None
    results = []
    names = tvm.list_models(module=tvm)
    for name in names:
        if only and only not in name:
            continue
        r = {"model": name, "input": input_shape_for(name)}
        start = time.time()
        try:
            model, _ = export_fx.build_model(name, None, False)
            ex = export_fx.make_example_inputs([export_fx.parse_input_shape(r["input"])])
            r["parameters"] = sum(p.numel() for p in model.parameters())
            try:
                ref, qg_text, summary = torch_reference.reference(model, ex, name, "fbgemm",
                                                                  False, None, None, 1,
                                                                  equalization_config=eq)
                r.update(exported=True, prepared=True, nodes=summary["nodes"],
                         edges=summary["edges"], modules=summary["modules"],
                         qg_bytes=len(qg_text.encode()), observers=len(ref["observers"]),
                         insertions=len(ref["insertions"]),
                         torch_prepare_seconds=ref["torch_prepare_seconds"])
                if out_dir:
                    export_fx.write_file(os.path.join(out_dir, f"{name}.qg"), qg_text)
                    export_fx.write_file(os.path.join(out_dir, f"{name}.fbgemm.ref.json"),
                                         torch_reference.dumps(ref))
            except Exception as e:  # separate "cannot trace" from "traces but prepare fails"
                try:
                    qg_text, summary, _, _ = export_fx.export(copy.deepcopy(model), ex, name)
                    r.update(exported=True, nodes=summary["nodes"], edges=summary["edges"],
                             qg_bytes=len(qg_text.encode()))
                    if out_dir:
                        export_fx.write_file(os.path.join(out_dir, f"{name}.qg"), qg_text)
                except Exception as e2:
                    r.update(exported=False, export_error=f"{type(e2).__name__}: {e2}"[:500])
                r.update(prepared=False, prepare_error=f"{type(e).__name__}: {e}"[:500])
            del model
        except Exception as e:
            r.update(exported=False, error=f"{type(e).__name__}: {e}"[:500])
        r["wall_seconds"] = round(time.time() - start, 2)
        # Timings on a shared machine mean little without the load they were taken under.
        r["loadavg_1m"] = round(os.getloadavg()[0], 2)
        print(json.dumps(r), flush=True)
        results.append(r)
    if equalization:
        return 0
    path = os.path.join(DATA, "torchvision_survey.json")
    old = []
    if only and os.path.exists(path):
        with open(path) as f:
            old = [x for x in json.load(f)["models"] if x["model"] not in
                   {r["model"] for r in results}]
    allr = sorted(old + results, key=lambda x: x["model"])
    doc = {
        "format": "qprep.torchvision_survey",
        "version": 1,
        "generator": "tools/gen_goldens.py --survey",
        "versions": versions(),
        "backend": "fbgemm",
        "models_total": len(allr),
        "exported": sum(1 for x in allr if x.get("exported")),
        "prepared": sum(1 for x in allr if x.get("prepared")),
        "models": allr,
    }
    export_fx.write_file(path, json.dumps(doc, indent=1) + "\n")
    return 0


SURVEY_BACKENDS = ("fbgemm", "x86", "qnnpack", "onednn", "native")


def parse_survey_configs(text):
    """'qnnpack,qat:fbgemm' -> [("qnnpack", False), ("fbgemm", True)]: prepare_fx with
    get_default_qconfig_mapping(B) and B's BackendConfig, or (`qat:B`) prepare_qat_fx with
    get_default_qat_qconfig_mapping(B) on the model traced in train mode. As in
    torch_reference.py, onednn and native use 1.13's native BackendConfig (1.13 has no onednn
    one), and native uses fbgemm's mappings."""
    out = []
    for item in text.split(","):
        qat = item.startswith("qat:")
        backend = item[4:] if qat else item
        if backend not in SURVEY_BACKENDS:
            raise SystemExit(f"error: unknown survey backend {item!r} "
                             f"(one of {', '.join(SURVEY_BACKENDS)}, each optionally qat:)")
        out.append((backend, qat))
    return out


def survey_configs(out_dir, only, configs, repeat, reuse_graphs, equalization=False):
    """The survey with other backends and QAT (`--survey --backends ...`): for every torchvision
    classification model, one trace per mode (eval: `<model>.qg`; train, for the QAT configs:
    `<model>.train.qg`) and one PyTorch reference per config (`<model>.<backend>.ref.json`,
    `<model>.qat.<backend>.ref.json`) in out_dir, which gen_parity_report.py --survey-dir
    compares. `reuse_graphs`: a `<graph>.qg` already in out_dir is kept and the model is only
    traced (for the node names), not run for shapes (the expensive part on the large models).
    Writes out_dir/survey.json (per model and config: prepared or the error, counts, times);
    torchvision_survey.json is left alone. Models in ascending parameter count, so an
    interrupted run has compared the most models."""
    import torchvision.models as tvm
    eq = torch_reference.default_equalization_config() if equalization else None
    names = [n for n in tvm.list_models(module=tvm) if not only or only in n]
    sizes = {}
    survey_path = os.path.join(DATA, "torchvision_survey.json")
    if os.path.exists(survey_path):
        with open(survey_path) as f:
            sizes = {m["model"]: m.get("parameters", 0) for m in json.load(f)["models"]}
    names.sort(key=lambda n: (sizes.get(n, 1 << 40), n))
    results = []
    out_json = os.path.join(out_dir, "survey.json")
    for name in names:
        shape = input_shape_for(name)
        ex = export_fx.make_example_inputs([export_fx.parse_input_shape(shape)])
        start = time.time()
        try:
            model, _ = export_fx.build_model(name, None, False)
        except Exception as e:  # noqa: BLE001
            results.append({"model": name, "error": f"{type(e).__name__}: {e}"[:500]})
            continue
        for train in (False, True):
            group = [b for b, q in configs if q == train]
            if not group:
                continue
            model.train(train)
            graph = f"{name}.train" if train else name
            qg_path = os.path.join(out_dir, f"{graph}.qg")
            try:
                if reuse_graphs and os.path.exists(qg_path):
                    with open(qg_path) as f:
                        qg_text = f.read()
                    gm, _ = export_fx.trace_like_prepare(copy.deepcopy(model))
                    exported = (qg_text, None, gm)
                else:
                    try:
                        qg_text, summary, gm, _ = export_fx.export(copy.deepcopy(model), ex,
                                                                   graph)
                    except ValueError as e:
                        # The exporter's shape run in train mode: batch norm on a 1x1 map
                        # (inception_v3's aux head) needs two samples. Shapes only; prepare
                        # itself never runs the model.
                        if not train or "more than 1 value per channel" not in str(e):
                            raise
                        batch2 = "2," + shape.split(",", 1)[1]
                        qg_text, summary, gm, _ = export_fx.export(
                            copy.deepcopy(model),
                            export_fx.make_example_inputs([export_fx.parse_input_shape(batch2)]),
                            graph)
                    export_fx.write_file(qg_path, qg_text)
                    exported = (qg_text, summary, gm)
            except Exception as e:  # noqa: BLE001  (cannot trace: every config of the mode)
                for b in group:
                    results.append({"model": name, "backend": b, "qat": train, "prepared": False,
                                    "export_error": f"{type(e).__name__}: {e}"[:500]})
                    print(json.dumps(results[-1]), flush=True)
                continue
            for b in group:
                r = {"model": name, "backend": b, "qat": train, "graph": graph}
                try:
                    ref, _, _ = torch_reference.reference(
                        model, ex, graph, b, train, None, None, repeat,
                        equalization_config=None if train else eq, exported=exported)
                    ref_name = f"{name}.{'qat.' if train else ''}{b}.ref.json"
                    export_fx.write_file(os.path.join(out_dir, ref_name),
                                         torch_reference.dumps(ref))
                    r.update(prepared=True, observers=len(ref["observers"]),
                             insertions=len(ref["insertions"]),
                             torch_prepare_seconds=ref["torch_prepare_seconds"],
                             torch_prepare_runs=ref["torch_prepare_runs"])
                except Exception as e:  # noqa: BLE001
                    r.update(prepared=False, prepare_error=f"{type(e).__name__}: {e}"[:500])
                r["loadavg_1m"] = round(os.getloadavg()[0], 2)
                print(json.dumps(r), flush=True)
                results.append(r)
        del model
        print(f"# {name}: {time.time() - start:.1f}s", flush=True)
        # Rewritten after every model: an interrupted run keeps what it did.
        export_fx.write_file(out_json, json.dumps({
            "format": "qprep.torchvision_survey_configs", "version": 1,
            "generator": "tools/gen_goldens.py --survey --backends",
            "versions": versions(),
            "configs": [("qat:" if q else "") + b for b, q in configs],
            "equalization": equalization, "results": results}, indent=1) + "\n")
    return 0


_TIMING_KEYS = ("torch_prepare_seconds", "torch_prepare_runs")


def _strip_timing(obj):
    if isinstance(obj, dict):
        return {k: _strip_timing(v) for k, v in obj.items() if k not in _TIMING_KEYS}
    if isinstance(obj, list):
        return [_strip_timing(v) for v in obj]
    return obj


def check(only):
    """Regenerates into a temporary directory and compares with the committed goldens: .qg and
    summaries byte for byte, references and the index as JSON without the timing fields. Exit
    status 1 on any difference (a changed PyTorch, exporter or reference tool)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        status = generate(only, 1, tmp)
        bad = []
        for name in sorted(os.listdir(tmp)):
            mine, theirs = os.path.join(tmp, name), os.path.join(DATA, name)
            if not os.path.exists(theirs):
                bad.append(f"{name}: not committed")
                continue
            with open(mine) as a, open(theirs) as b:
                ta, tb = a.read(), b.read()
            if name.endswith(".ref.json") or name == "index.json":
                ja, jb = _strip_timing(json.loads(ta)), _strip_timing(json.loads(tb))
                if name == "index.json":
                    ids = {c["id"] for c in ja["cases"]}
                    jb["cases"] = [c for c in jb["cases"] if c["id"] in ids]
                if ja != jb:
                    bad.append(f"{name}: differs")
            elif ta != tb:
                bad.append(f"{name}: differs")
        for b in bad:
            print(b, file=sys.stderr)
        print(f"checked {len(os.listdir(tmp))} files: {len(bad)} differ")
        return 1 if bad or status else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", help="only cases (or survey models) whose id contains this")
    p.add_argument("--repeat", type=int, default=3, help="prepare_fx timing runs per case")
    p.add_argument("--check", action="store_true",
                   help="regenerate into a temporary directory and compare with the goldens")
    p.add_argument("--survey", action="store_true")
    p.add_argument("--survey-dir", help="with --survey: keep every .qg and reference here")
    p.add_argument("--backends", metavar="B[,qat:B...]",
                   help="with --survey --survey-dir: references for these configs instead of "
                        "fbgemm alone (fbgemm, x86, qnnpack, onednn, native; qat:B is "
                        "prepare_qat_fx on the model traced in train mode); writes DIR/survey.json"
                        ", not the committed survey JSON; --repeat sets the prepare_fx runs")
    p.add_argument("--reuse-graphs", action="store_true",
                   help="with --backends: keep a DIR/<graph>.qg already there (trace only)")
    p.add_argument("--equalization", action="store_true",
                   help="with --survey --survey-dir: references with the default equalization "
                        "config (the survey JSON is not rewritten)")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)  # the machine is shared; timings are single-threaded
    if args.survey:
        if args.survey_dir:
            os.makedirs(args.survey_dir, exist_ok=True)
        if args.equalization and not args.survey_dir:
            p.error("--equalization needs --survey-dir")
        if args.backends:
            if not args.survey_dir:
                p.error("--backends needs --survey-dir")
            return survey_configs(args.survey_dir, args.only, parse_survey_configs(args.backends),
                                  args.repeat, args.reuse_graphs, args.equalization)
        return survey(args.survey_dir, args.only, args.equalization)
    if args.check:
        return check(args.only)
    return generate(args.only, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
