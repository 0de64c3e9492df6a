#!/usr/bin/python3
"""qprep against PyTorch 1.13's prepare_fx on the same models, in one sitting (issue 6).

For each model, PyTorch's side runs tools/torch_reference.py in a fresh process: it traces the
model the way prepare_fx does, times `prepare_fx` (median of --repeat runs, each on a fresh copy,
the copy outside the timed region) and writes the very graph it prepared as .qg. qprep's side
then runs the real binary on that file, `qprepc prepare MODEL.qg --backend fbgemm --plan P.json
--stats -q`, several times, and takes the median wall time of the whole process (start-up,
reading the file, compiling the rules, prepare, writing the plan) — everything a user waits
for — plus the per-stage times qprepc prints. Python's interpreter start-up and `import torch`
are NOT in PyTorch's number, so the comparison favours PyTorch.

Both sides of a model are measured back to back and the 1-minute load average is recorded
before and after (the machine may be shared): ratios come from measurements of the same sitting.

Output: Google Benchmark-format JSON (`context` + `benchmarks`), names
`torch_prepare_fx/<model>` and `qprepc_prepare/<model>` (real_time in ms; the qprepc entries
carry `speedup_vs_torch`, `nodes` and stage counters).

Usage:
  /usr/bin/python3 bench/compare_torch.py --qprepc build/bin/qprepc --out compare.json \
      [--models residual_chain_50,...,resnet50] [--quick]
"""

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (torch_reference.py model arguments, prepare_fx repeats)
MODELS = {
    "residual_chain_50": (["--model", "tests/models/residual_chain.py:residual_chain_50",
                           "--input-shape", "1,64"], 3),
    "residual_chain_100": (["--model", "tests/models/residual_chain.py:residual_chain_100",
                            "--input-shape", "1,64"], 3),
    "residual_chain_200": (["--model", "tests/models/residual_chain.py:residual_chain_200",
                            "--input-shape", "1,64"], 1),
    "residual_chain_400": (["--model", "tests/models/residual_chain.py:residual_chain_400",
                            "--input-shape", "1,64"], 1),
    "wide_branching_8x16": (["--model", "tests/models/wide_branching.py:wide_branching_8x16",
                             "--input-shape", "1,32"], 1),
    "resnet18": (["--torchvision", "resnet18", "--input-shape", "1,3,224,224"], 3),
    "resnet50": (["--torchvision", "resnet50", "--input-shape", "1,3,224,224"], 3),
    "mobilenet_v2": (["--torchvision", "mobilenet_v2", "--input-shape", "1,3,224,224"], 3),
}
DEFAULT_MODELS = list(MODELS)
QUICK_MODELS = ["residual_chain_50", "resnet18"]


def loadavg():
    return os.getloadavg()[0]


def torch_worker(name, workdir, repeat):
    """Runs in a fresh interpreter (one per model): traces the model as prepare_fx does, writes
    that very graph as .qg (tools/export_fx.py), then times prepare_fx `repeat` times, each on a
    fresh deep copy made outside the timed region. Prints JSON on stdout."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import copy
    import warnings
    warnings.simplefilter("ignore")
    import torch
    import export_fx
    import torch_reference as tr
    torch.set_num_threads(1)  # single thread, as qprepc
    args, _ = MODELS[name]
    ns = argparse.Namespace(torchvision=None, model=None, input_shape=[])
    for flag, value in zip(args[::2], args[1::2]):
        setattr(ns, flag[2:].replace("-", "_"), [value] if flag == "--input-shape" else value)
    model, _ = export_fx.build_model(ns.torchvision, ns.model, False)
    inputs = export_fx.example_inputs_from_args(ns)
    qg_text, _, _, _ = export_fx.export(copy.deepcopy(model), inputs, name, None)
    qg = os.path.join(workdir, name + ".qg")
    export_fx.write_file(qg, qg_text)
    backend_config = tr.backend_config_for("fbgemm")
    qconfig_mapping = tr.qconfig_mapping_for("fbgemm", False)
    walls, cpus, insertions = [], [], 0
    for _ in range(repeat):
        m = copy.deepcopy(model).eval()
        w0, c0 = time.perf_counter(), time.process_time()
        prepared = tr.run_prepare(m, qconfig_mapping, inputs, None, backend_config, False)
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
        insertions = sum(1 for n in prepared.graph.nodes
                         if n.op == "call_module" and tr.is_observer_module(
                             prepared.get_submodule(n.target)))
    print(json.dumps({"qg": qg, "wall": statistics.median(walls), "cpu": statistics.median(cpus),
                      "runs": repeat, "insertions": insertions}))


def torch_side(name, workdir, repeat):
    _, default_repeat = MODELS[name]
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", name, "--workdir",
           workdir, "--repeat", str(repeat or default_repeat)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


STAGES_RE = re.compile(r"stages \(ms\): (.*)")


def qprepc_side(qprepc, qg, workdir, runs):
    plan = os.path.join(workdir, os.path.basename(qg) + ".plan.json")
    cmd = [qprepc, "prepare", qg, "--backend", "fbgemm", "--plan", plan, "--stats", "-q"]
    times, cpus, stages = [], [], {}
    for _ in range(runs):
        c0, t0 = children_cpu(), time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        times.append(time.perf_counter() - t0)
        cpus.append(children_cpu() - c0)
        m = STAGES_RE.search(out)
        if m:  # "compile rules 1.234, fuse 0.1, ..." (last run's)
            stages = {k.strip().replace(" ", "_") + "_ms": float(v)
                      for k, v in (p.rsplit(" ", 1) for p in m.group(1).split(", "))}
    with open(plan) as f:
        insertions = len(json.load(f)["insertions"])
    return statistics.median(times), statistics.median(cpus), len(times), stages, insertions


def count_nodes(qg):
    with open(qg) as f:
        return sum(1 for line in f if line.startswith("%"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--qprepc", required=True, help="the qprepc binary (Release build)")
    p.add_argument("--out", required=True, help="output JSON (Google Benchmark format)")
    p.add_argument("--models", help="comma-separated subset of: " + ", ".join(MODELS))
    p.add_argument("--qprepc-runs", type=int, default=10, help="qprepc runs per model (median)")
    p.add_argument("--repeat", type=int, default=0,
                   help="prepare_fx runs per model (median; default per model: 3, 1 for big ones)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: two small models, one run each")
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--torch-worker":  # internal: PyTorch's side in its own process
        w = argparse.ArgumentParser()
        w.add_argument("--torch-worker")
        w.add_argument("--workdir")
        w.add_argument("--repeat", type=int)
        wargs = w.parse_args(argv)
        torch_worker(wargs.torch_worker, wargs.workdir, wargs.repeat)
        return 0
    args = p.parse_args(argv)
    models = args.models.split(",") if args.models else (QUICK_MODELS if args.quick
                                                          else DEFAULT_MODELS)
    for m in models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}")
    runs = 1 if args.quick else args.qprepc_runs
    repeat = 1 if args.quick else args.repeat
    import torch  # only for the version in the context
    context = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host_name": platform.node(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "num_cpus": os.cpu_count(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "qprepc": os.path.abspath(args.qprepc),
        "load_avg_start": os.getloadavg(),
    }
    benchmarks = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="qprep-compare-") as work:
        for name in models:
            load0 = loadavg()
            try:
                t = torch_side(name, work, repeat)
                qg = t["qg"]
                q_wall, q_cpu, q_runs, stages, q_ins = qprepc_side(args.qprepc, qg, work, runs)
            except subprocess.CalledProcessError as e:  # record it, go on with the others
                msg = f"{' '.join(e.cmd[:3])}...: exit {e.returncode}: {(e.stderr or '')[-500:]}"
                print(f"{name}: FAILED {msg}", file=sys.stderr, flush=True)
                benchmarks.append({"name": f"qprepc_prepare/{name}", "run_type": "iteration",
                                   "error_occurred": True, "error_message": msg})
                failures += 1
                continue
            load1 = loadavg()
            nodes = count_nodes(qg)
            common = {"run_type": "iteration", "time_unit": "ms", "nodes": nodes,
                      "load_avg_before": load0, "load_avg_after": load1}
            benchmarks.append({
                "name": f"torch_prepare_fx/{name}", "run_name": f"torch_prepare_fx/{name}",
                "iterations": t["runs"], "real_time": t["wall"] * 1e3,
                "cpu_time": t["cpu"] * 1e3, "insertions": t["insertions"], **common})
            benchmarks.append({
                "name": f"qprepc_prepare/{name}", "run_name": f"qprepc_prepare/{name}",
                "iterations": q_runs, "real_time": q_wall * 1e3, "cpu_time": q_cpu * 1e3,
                "insertions": q_ins, "speedup_vs_torch_wall": t["wall"] / q_wall,
                "speedup_vs_torch_cpu": t["cpu"] / q_cpu if q_cpu > 0 else None,
                **common, **stages})
            print(f"{name:22s} nodes {nodes:6d}  prepare_fx wall {t['wall'] * 1e3:9.1f} ms "
                  f"cpu {t['cpu'] * 1e3:9.1f} ms | qprepc wall {q_wall * 1e3:7.2f} ms "
                  f"cpu {q_cpu * 1e3:7.2f} ms | x{t['wall'] / q_wall:7.1f} wall "
                  f"x{t['cpu'] / max(q_cpu, 1e-9):7.1f} cpu | insertions {t['insertions']}/"
                  f"{q_ins} | load {load0:.1f}->{load1:.1f}", file=sys.stderr, flush=True)
    context["load_avg_end"] = os.getloadavg()
    with open(args.out, "w") as f:
        json.dump({"context": context, "benchmarks": benchmarks}, f, indent=2)
        f.write("\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
