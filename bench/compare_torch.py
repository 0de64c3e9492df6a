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


def torch_side(name, workdir, repeat):
    args, default_repeat = MODELS[name]
    qg = os.path.join(workdir, name + ".qg")
    ref = os.path.join(workdir, name + ".ref.json")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "torch_reference.py"), *args,
           "--backend", "fbgemm", "--repeat", str(repeat or default_repeat), "--quiet",
           "--qg", qg, "-o", ref]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(ref) as f:
        data = json.load(f)
    return qg, data["torch_prepare_seconds"], data["torch_prepare_runs"], len(data["insertions"])


STAGES_RE = re.compile(r"stages \(ms\): (.*)")


def qprepc_side(qprepc, qg, workdir, runs):
    plan = os.path.join(workdir, os.path.basename(qg) + ".plan.json")
    cmd = [qprepc, "prepare", qg, "--backend", "fbgemm", "--plan", plan, "--stats", "-q"]
    times, stages = [], {}
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        times.append(time.perf_counter() - t0)
        m = STAGES_RE.search(out)
        if m:  # "compile rules 1.234, fuse 0.1, ..." (last run's)
            stages = {k.strip().replace(" ", "_") + "_ms": float(v)
                      for k, v in (p.rsplit(" ", 1) for p in m.group(1).split(", "))}
    with open(plan) as f:
        insertions = len(json.load(f)["insertions"])
    return statistics.median(times), len(times), stages, insertions


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
    with tempfile.TemporaryDirectory(prefix="qprep-compare-") as work:
        for name in models:
            load0 = loadavg()
            qg, torch_s, torch_runs, torch_ins = torch_side(name, work, repeat)
            qprep_s, qprep_runs, stages, qprep_ins = qprepc_side(args.qprepc, qg, work, runs)
            load1 = loadavg()
            nodes = count_nodes(qg)
            benchmarks.append({
                "name": f"torch_prepare_fx/{name}", "run_name": f"torch_prepare_fx/{name}",
                "run_type": "iteration", "iterations": torch_runs,
                "real_time": torch_s * 1e3, "cpu_time": torch_s * 1e3, "time_unit": "ms",
                "nodes": nodes, "insertions": torch_ins,
                "load_avg_before": load0, "load_avg_after": load1,
            })
            benchmarks.append({
                "name": f"qprepc_prepare/{name}", "run_name": f"qprepc_prepare/{name}",
                "run_type": "iteration", "iterations": qprep_runs,
                "real_time": qprep_s * 1e3, "cpu_time": qprep_s * 1e3, "time_unit": "ms",
                "nodes": nodes, "insertions": qprep_ins,
                "speedup_vs_torch": torch_s / qprep_s,
                "load_avg_before": load0, "load_avg_after": load1, **stages,
            })
            print(f"{name:24s} nodes {nodes:6d}  prepare_fx {torch_s * 1e3:10.1f} ms  "
                  f"qprepc {qprep_s * 1e3:8.2f} ms  x{torch_s / qprep_s:8.1f}  "
                  f"insertions torch {torch_ins} qprep {qprep_ins}  load {load0:.1f}->{load1:.1f}",
                  file=sys.stderr, flush=True)
    context["load_avg_end"] = os.getloadavg()
    with open(args.out, "w") as f:
        json.dump({"context": context, "benchmarks": benchmarks}, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
