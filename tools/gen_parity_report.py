#!/usr/bin/python3
"""Side-by-side parity report: qprepc's plans against PyTorch 1.13's placements (issue 4).

For every case of tests/parity/data/index.json (and, with --survey-dir, every torchvision model
the survey kept), runs `qprepc prepare MODEL.qg --backend B [--qat] [--input-quantized-idxs ..]
[--output-quantized-idxs ..] --plan PLAN.json`, compares the plan with PyTorch's reference by
the rule of PLAN_FORMAT.md ("Two plans place the same observers when": equal insertion points
`(value, sorted consumers)`; at each point equal observer class and equal values for every args
key both name, floats to a relative 1e-6; the same partition of points into shared instances),
and times qprepc (wall clock, median of --repeat runs) next to the reference's
`torch_prepare_seconds`.

Cases whose reference used a non-default QConfigMapping or standalone / custom modules need a
qconfig rule file: `--qconfig-dir DIR` (default tests/parity/qconfig) supplies `DIR/<case id>.qr`
(passed as --qconfig); without one the case is reported as `skipped`, never as passed.
`--cases` (default tests/parity/cases.json) adds per case: `qconfig_mapping` (--qconfig-mapping),
`standalone_modules` (--standalone-module NAME:IN:OUT; the child graph, index.json's
`standalone_qg`, is prepared too and compared with the reference's `standalone_modules`),
`custom_modules` (--custom-module TYPE=OBSERVED), `equalization` (--equalization default or
FILE.qr:MAPPING, the file relative to the cases file) and `seed_reference`: where index.json marks
`differs_from_seed`, the placement qprep must give is the seed's (2.x), not 1.13's golden; the
case is compared with that file and reported as `pass-seed`. Cases where PyTorch raised
(`error` in the reference) pass when qprepc exits with status 1 (a diagnostic, no plan).

Usage:
  /usr/bin/python3 tools/gen_parity_report.py --qprepc build/bin/qprepc [--only resnet] \
      [--survey-dir build/survey] [--repeat 3] [--json report.json]
Exit status 1 when any compared case differs or fails.
"""

import argparse
import json
import re
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "parity", "data")
SURVEY_REF = re.compile(
    r"^(?P<model>[^.]+)\.(?P<qat>qat\.)?(?P<backend>fbgemm|x86|qnnpack|onednn|native)\.ref\.json$")


# ----------------------------------------------------------------------------------------------
# PLAN_FORMAT.md's comparison


def _same_value(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a == b:
            return True
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return abs(a - b) <= 1e-6 * max(abs(a), abs(b))
    return a == b


def _observer_diffs(mine, theirs, where):
    """Differences between two observer descriptions: class, common args, inner observer."""
    out = []
    if mine.get("class") != theirs.get("class"):
        out.append(f"{where}: class {mine.get('class')} != {theirs.get('class')}")
        return out
    ma, ta = mine.get("args", {}), theirs.get("args", {})
    for k in sorted(set(ma) & set(ta)):
        if not _same_value(ma[k], ta[k]):
            out.append(f"{where}: {k} {ma[k]!r} != {ta[k]!r}")
    if "observer" in mine and "observer" in theirs:
        out += _observer_diffs(mine["observer"], theirs["observer"], f"{where} (inner observer)")
    return out


def _points(doc):
    """(value, consumers, kind) -> observer description; and the partition into shared
    instances. `kind` is "" for an ordinary observer, "equalization" for an input-weight
    equalization observer chained after it at the same point."""
    observers = {o["id"]: o for o in doc.get("observers", [])}
    points, groups = {}, {}
    for ins in doc.get("insertions", []):
        key = (ins["value"], tuple(sorted(ins["consumers"])), ins.get("kind", ""))
        points[key] = observers.get(ins["observer"], {})
        groups.setdefault(ins["observer"], set()).add(key)
    partition = {frozenset(g) for g in groups.values()}
    return points, partition


def _where(key):
    return f"{key[0]} -> {list(key[1])}" + (f" ({key[2]})" if key[2] else "")


def compare(plan, ref):
    """Returns a list of human-readable differences (empty: same placement)."""
    mine, my_partition = _points(plan)
    theirs, their_partition = _points(ref)
    diffs = []
    for key in sorted(set(theirs) - set(mine)):
        diffs.append(f"missing observer on {_where(key)}")
    for key in sorted(set(mine) - set(theirs)):
        diffs.append(f"extra observer on {_where(key)}")
    for key in sorted(set(mine) & set(theirs)):
        diffs += _observer_diffs(mine[key], theirs[key], _where(key))
    if not diffs and my_partition != their_partition:
        for group in sorted(their_partition - my_partition, key=lambda g: sorted(g)):
            diffs.append("not shared as in PyTorch: " + ", ".join(
                _where(k) for k in sorted(group)))
    return diffs


# ----------------------------------------------------------------------------------------------


# Where the seed (2.x) and 1.13 differ on survey models (docs/parity-notes.md item 6): 1.13
# observes the weight of a NON_QUANTIZABLE_WEIGHT_OPS call (a float PlaceholderObserver under the
# default mappings) when the backend config names that weight (native's layer_norm); the seed
# inserts nothing there. Read from the graph: the `weight=` argument of such a call.
_NON_QUANTIZABLE_WEIGHT_CALL = re.compile(
    r"(?m)^%(\w+) = call_function\[torch\.nn\.functional\.(?:layer_norm|group_norm|"
    r"instance_norm)\]\(.*\bweight=%(\w+)")


def seed_adjusted(ref, qg_text):
    """The reference with 1.13's observers on non-quantizable weights removed (the seed's
    placement), or None when there are none."""
    weights = {}
    for node, weight in _NON_QUANTIZABLE_WEIGHT_CALL.findall(qg_text):
        weights.setdefault(weight, set()).add(node)
    drop = [i for i in ref.get("insertions", []) if i["value"] in weights and
            set(i["consumers"]) <= weights[i["value"]]]
    if not drop:
        return None
    out = dict(ref)
    out["insertions"] = [i for i in ref["insertions"] if i not in drop]
    return out


def _default_mapping(entry):
    return entry["qconfig_mapping"].startswith("get_default_")


def _extra_flags(extra, cases_dir=None):
    cmd = []
    eq = extra.get("equalization")
    if eq:
        # "default", or FILE.qr:MAPPING relative to the cases file's directory.
        cmd += ["--equalization", eq if eq == "default" or cases_dir is None
                else os.path.join(cases_dir, eq)]
    if extra.get("qconfig_mapping"):
        cmd += ["--qconfig-mapping", extra["qconfig_mapping"]]
    for key, flag, field in (("standalone_modules", "--standalone-module", "name"),
                             ("standalone_module_classes", "--standalone-module-class", "type")):
        for sm in extra.get(key, []):
            cmd += [flag, "%s:%s:%s" % (
                sm[field], ",".join(map(str, sm.get("input_quantized_idxs", []))),
                ",".join(map(str, sm.get("output_quantized_idxs", []))))]
    for float_type, observed in sorted(extra.get("custom_modules", {}).items()):
        cmd += ["--custom-module", f"{float_type}={observed}"]
    return cmd


def run_case(qprepc, qg, backend, qat, pcc, qconfig, expect_error, ref, repeat, extra=()):
    result = {"torch_prepare_seconds": ref.get("torch_prepare_seconds")}
    with tempfile.TemporaryDirectory() as tmp:
        plan_path = os.path.join(tmp, "plan.json")
        cmd = [qprepc, "prepare", qg, "--backend", backend, "--plan", plan_path, "-q"]
        if qat:
            cmd.append("--qat")
        if qconfig:
            cmd += ["--qconfig", qconfig]
        cmd += list(extra)
        for key, flag in (("input_quantized_idxs", "--input-quantized-idxs"),
                          ("output_quantized_idxs", "--output-quantized-idxs")):
            if pcc and pcc.get(key):
                cmd += [flag, ",".join(str(i) for i in pcc[key])]
        times = []
        proc = None
        for _ in range(max(1, repeat)):
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                break
        result["qprepc_seconds"] = statistics.median(times)
        result["command"] = " ".join(cmd[:3] + cmd[4:6]) + (" --qat" if qat else "")
        if expect_error:
            ok = proc.returncode == 1 and not os.path.exists(plan_path)
            result["status"] = "pass" if ok else "fail"
            if not ok:
                result["diffs"] = [f"PyTorch raises ({ref.get('error', '')[:120]}); qprepc exit "
                                   f"status {proc.returncode}"]
            return result
        if proc.returncode != 0:
            result["status"] = "fail"
            result["diffs"] = [f"qprepc exit status {proc.returncode}: "
                               + (proc.stderr.strip().splitlines() or [""])[0][:300]]
            return result
        with open(plan_path) as f:
            plan = json.load(f)
    result["plan_nodes"] = plan.get("nodes", [])
    diffs = compare(plan, ref)
    result["status"] = "pass" if not diffs else "differ"
    if diffs:
        result["diffs"] = diffs
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--qprepc", default=os.path.join(ROOT, "build", "bin", "qprepc"))
    p.add_argument("--index", default=os.path.join(DATA, "index.json"))
    p.add_argument("--only", help="only cases whose id contains this")
    p.add_argument("--qconfig-dir", default=os.path.join(ROOT, "tests", "parity", "qconfig"),
                   help="DIR/<case id>.qr for non-default qconfig mappings")
    p.add_argument("--cases", default=os.path.join(ROOT, "tests", "parity", "cases.json"),
                   help="per-case flags and seed references (tests/parity/cases.json)")
    p.add_argument("--survey-dir", help="also compare every <model>.qg / <model>.fbgemm.ref.json "
                   "kept by gen_goldens.py --survey --survey-dir")
    p.add_argument("--survey-equalization", action="store_true",
                   help="the survey references were made with the default equalization config "
                        "(gen_goldens.py --survey --equalization): run qprepc with it too")
    p.add_argument("--survey-configs", metavar="B[,qat:B...]",
                   help="compare only these survey configs (default: every reference found)")
    p.add_argument("--survey-only", action="store_true",
                   help="with --survey-dir: skip the committed cases of the index")
    p.add_argument("--survey-summary", metavar="FILE.json",
                   help="write a compact per model and config summary of the survey rows "
                        "(insertions, observers, status, times)")
    p.add_argument("--repeat", type=int, default=1, help="qprepc timing runs (median)")
    p.add_argument("--json", help="write the full report here")
    args = p.parse_args()

    with open(args.index) as f:
        index = json.load(f)
    data_dir = os.path.dirname(os.path.abspath(args.index))
    case_extras, cases_dir = {}, None
    if args.cases and os.path.exists(args.cases):
        with open(args.cases) as f:
            case_extras = json.load(f)["cases"]
        cases_dir = os.path.dirname(os.path.abspath(args.cases))
    rows = []
    for e in index["cases"]:
        if args.survey_only:
            break
        if args.only and args.only not in e["id"]:
            continue
        with open(os.path.join(data_dir, e["reference"])) as f:
            ref = json.load(f)
        pcc = e.get("prepare_custom_config") or {}
        qconfig = None
        if args.qconfig_dir and os.path.exists(os.path.join(args.qconfig_dir, f"{e['id']}.qr")):
            qconfig = os.path.join(args.qconfig_dir, f"{e['id']}.qr")
        # Non-traceable modules are a tracing matter: the .qg already has them as leaves.
        needs_rules = (not _default_mapping(e)) or any(
            k not in ("input_quantized_idxs", "output_quantized_idxs",
                      "non_traceable_module_name", "non_traceable_module_class") for k in pcc)
        if needs_rules and qconfig is None:
            rows.append({"case": e["id"], "status": "skipped",
                         "why": "needs a qconfig rule file (--qconfig-dir)",
                         "torch_prepare_seconds": ref.get("torch_prepare_seconds")})
            continue
        extra = case_extras.get(e["id"], {})
        compare_with = ref
        if extra.get("seed_reference"):
            with open(os.path.join(cases_dir, extra["seed_reference"])) as f:
                compare_with = dict(json.load(f))
            compare_with["torch_prepare_seconds"] = ref.get("torch_prepare_seconds")
        r = run_case(args.qprepc, os.path.join(data_dir, e["qg"]), e["backend"], e["qat"], pcc,
                     qconfig, "error" in compare_with, compare_with, args.repeat,
                     _extra_flags(extra, cases_dir))
        if r["status"] == "pass" and extra.get("seed_reference"):
            r["status"] = "pass-seed"
        # A standalone child is prepared separately, as 1.13's get_standalone_module_configs
        # says: the entry by name, else by class; its own idxs; its own mapping / backend, or
        # else QConfigMapping().set_global(the parent's qconfig at the node) and the parent's
        # backend.
        with open(os.path.join(data_dir, e["qg"])) as f:
            module_types = dict(re.findall(r"(?m)^module (\S+) : ([\w.]+)", f.read()))
        for path, child_ref in sorted((ref.get("standalone_modules") or {}).items()):
            child_qg = (e.get("standalone_qg") or {}).get(path)
            sm = next((x for x in extra.get("standalone_modules", []) if x["name"] == path),
                      None) or next((x for x in extra.get("standalone_module_classes", [])
                                     if x["type"] == module_types.get(path)), None)
            if not child_qg or sm is None or r["status"] != "pass":
                continue
            flags = []
            if sm.get("qconfig_mapping"):
                flags += ["--qconfig-mapping", sm["qconfig_mapping"]]
            else:
                parent_q = next((n["qconfig"] for n in r.get("plan_nodes", [])
                                 if n["name"] == path.replace(".", "_")), "")
                flags += ["--global-qconfig", parent_q.split(" (")[0] or "none"]
            child = run_case(args.qprepc, os.path.join(data_dir, child_qg),
                             sm.get("backend", e["backend"]), e["qat"], sm, qconfig, False,
                             child_ref, 1, flags)
            if child["status"] != "pass":
                r["status"] = child["status"]
                r["diffs"] = [f"standalone {path}: {d}" for d in child.get("diffs", [])]
        r["case"] = e["id"]
        r["nodes"] = e.get("nodes")
        rows.append(r)
    if args.survey_dir:
        # <model>.<backend>.ref.json with <model>.qg; <model>.qat.<backend>.ref.json (QAT,
        # prepare_qat_fx) with <model>.train.qg (gen_goldens.py --survey [--backends ...]).
        wanted = set(args.survey_configs.split(",")) if args.survey_configs else None
        for name in sorted(os.listdir(args.survey_dir)):
            m = SURVEY_REF.match(name)
            if not m:
                continue
            model, qat, backend = m.group("model"), bool(m.group("qat")), m.group("backend")
            config = ("qat:" if qat else "") + backend
            if args.only and args.only not in model:
                continue
            if wanted is not None and config not in wanted:
                continue
            with open(os.path.join(args.survey_dir, name)) as f:
                ref = json.load(f)
            graph = f"{model}.train.qg" if qat else f"{model}.qg"
            eq = args.survey_equalization and not qat  # prepare_qat_fx takes none
            flags = ["--equalization", "default"] if eq else []
            r = run_case(args.qprepc, os.path.join(args.survey_dir, graph), backend, qat, {},
                         None, False, ref, args.repeat, flags)
            if r["status"] == "differ":
                with open(os.path.join(args.survey_dir, graph)) as f:
                    seed = seed_adjusted(ref, f.read())
                if seed is not None:
                    rs = run_case(args.qprepc, os.path.join(args.survey_dir, graph), backend,
                                  qat, {}, None, False, seed, 1, flags)
                    if rs["status"] == "pass":
                        r["status"] = "pass-seed"
                        r["seed_difference"] = r.pop("diffs")
            r["case"] = f"survey:{model}.{'qat.' if qat else ''}{backend}"
            r["survey"] = {"model": model, "config": config,
                           "insertions": len(ref.get("insertions", [])),
                           "observers": len(ref.get("observers", []))}
            rows.append(r)

    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        t = r.get("torch_prepare_seconds")
        q = r.get("qprepc_seconds")
        line = f"{r['case']:45s} {r['status']:8s}"
        line += f" torch {t:9.4f}s" if isinstance(t, float) else " " * 17
        line += f" qprepc {q:9.4f}s" if isinstance(q, float) else ""
        print(line)
        for d in r.get("diffs", [])[:5]:
            print(f"    {d}")
        if r.get("why"):
            print(f"    {r['why']}")
    print("summary: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"format": "qprep.parity_report", "version": 1, "counts": counts,
                       "cases": rows}, f, indent=1)
            f.write("\n")
    if args.survey_summary:
        write_survey_summary(args.survey_summary, [r for r in rows if "survey" in r])
    return 1 if counts.get("fail") or counts.get("differ") else 0


def write_survey_summary(path, rows):
    """{config: {compared, matched, prepare_fx / qprepc seconds range, models: {model:
    [insertions, observers, status]}}}: small enough to commit; the timings are the runs'."""
    configs = {}
    for r in rows:
        c = configs.setdefault(r["survey"]["config"], {"models": {}, "torch": [], "qprepc": []})
        c["models"][r["survey"]["model"]] = [r["survey"]["insertions"],
                                             r["survey"]["observers"], r["status"]]
        if isinstance(r.get("torch_prepare_seconds"), float):
            c["torch"].append(r["torch_prepare_seconds"])
        if isinstance(r.get("qprepc_seconds"), float):
            c["qprepc"].append(r["qprepc_seconds"])
    out = {"format": "qprep.torchvision_survey_backends", "version": 1,
           "generator": "tools/gen_parity_report.py --survey-dir DIR --survey-summary FILE",
           "fields": ["insertions", "observers", "status"], "configs": {}}
    for name, c in sorted(configs.items()):
        out["configs"][name] = {
            "compared": len(c["models"]),
            "matched": sum(1 for v in c["models"].values() if v[2] == "pass"),
            "matched_seed": sum(1 for v in c["models"].values() if v[2] == "pass-seed"),
            "prepare_fx_seconds": [round(min(c["torch"]), 3), round(max(c["torch"]), 3)]
            if c["torch"] else None,
            "qprepc_seconds": [round(min(c["qprepc"]), 3), round(max(c["qprepc"]), 3)]
            if c["qprepc"] else None,
            "models": dict(sorted(c["models"].items())),
        }
    with open(path, "w") as f:
        # Lists of scalars on one line (one model per line): diffs stay readable.
        text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]",
                      lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]",
                      json.dumps(out, indent=1))
        f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
