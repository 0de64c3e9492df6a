#!/usr/bin/python3
"""The benchmark report (issue 6): reads one bench/run.sh output directory and prints markdown.

Inputs (all in RESULTS_DIR, as bench/run.sh writes them): machine.json, prepare_bench.json and
prepare_bench_1m_*.json (Google Benchmark), compare_torch.json (bench/compare_torch.py),
observer_bench.json + torch_observers.json (bench/observers/). Missing files are skipped.

Tables: qprepc vs prepare_fx (ratio, against the goals ≥1000× on the 400-block chain and ≥100×
on resnet50); prepare per stage on the committed exports; growth 1k..1M nodes (time per node,
peak RSS, against the goals: per-node time at 1M within 2× of 10k, 1M nodes < 5 s, < 2 GB);
observer kernels (bench/observers/report.py's table: fraction of the bandwidth limit). Plots
(matplotlib, PNG, written next to the report or to --plots-to DIR): prepare time vs graph size,
log-log, qprep and PyTorch; kernel throughput against the read-bandwidth limit.

Usage: bench/report.py RESULTS_DIR [--plots-to DIR] > report.md
"""

import argparse
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def cpu_ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    return b["cpu_time"] * scale


def iteration_runs(doc):
    if not doc:
        return []
    runs = [dict(b) for b in doc["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    for b in runs:  # prepare_bench's names end in /real_time (UseRealTime)
        b["name"] = b["name"].removesuffix("/real_time")
    return runs


def fmt(x, digits=2):
    if x is None:
        return ""
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def goal(ok):
    return "met" if ok else "**missed**"


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--plots-to", help="directory for the PNG plots (default: RESULTS)")
    args = p.parse_args(argv)
    res = args.results
    plots = args.plots_to or res
    out = []
    w = out.append

    machine = load(os.path.join(res, "machine.json")) or {}
    rev = ""
    try:
        rev = open(os.path.join(res, "git_rev.txt")).read().strip()
    except OSError:
        pass
    w("## Machine and run\n")
    w(f"- CPU: {machine.get('cpu', '?')}, {machine.get('cpus', '?')} logical CPUs, "
      f"{machine.get('mem_total', '?')} RAM; {machine.get('os', '?')}, Linux "
      f"{machine.get('kernel', '?')}; {machine.get('compiler', '?')}")
    w(f"- qprep at git {rev or '?'}, Release build; load average at start "
      f"{', '.join(f'{x:.2f}' for x in machine.get('load_avg', []))}")
    w("- Command: `bench/run.sh` (see docs/benchmarks.md)\n")

    # --- qprepc vs PyTorch ------------------------------------------------------------------
    cmp_doc = load(os.path.join(res, "compare_torch.json"))
    cmp_rows = {}
    if cmp_doc:
        for b in cmp_doc["benchmarks"]:
            if b.get("error_occurred"):
                continue
            side, model = b["name"].split("/", 1)
            cmp_rows.setdefault(model, {})[side] = b
        ctx = cmp_doc["context"]
        w("## qprepc against PyTorch's prepare_fx (same sitting)\n")
        w(f"PyTorch {ctx.get('torch_version')} `prepare_fx` (torch.set_num_threads(1); median "
          "of the runs shown, each on a fresh copy made outside the timed region; Python "
          "start-up, `import torch` and tracing for the export not counted) against the whole "
          "`qprepc prepare MODEL.qg --backend fbgemm --plan P.json` process (start-up, read, "
          "compile the rules, prepare, write the plan; median of the runs shown). CPU time is "
          "the process's user+system time (for PyTorch, of the prepare_fx call); on a shared "
          "machine it is the better measure, wall time inflates with the load (1-minute load "
          "average before → after each pair).\n")
        w("| model | nodes | prepare_fx CPU ms | qprepc CPU ms | ratio (CPU) | prepare_fx wall ms | qprepc wall ms | ratio (wall) | insertions torch / qprep | load | goal (CPU ratio) |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for model, sides in cmp_rows.items():
            t, q = sides.get("torch_prepare_fx"), sides.get("qprepc_prepare")
            if not t or not q:
                continue
            ratio_w = t["real_time"] / q["real_time"]
            ratio_c = t["cpu_time"] / q["cpu_time"] if q["cpu_time"] else None
            g = ""
            if model == "residual_chain_400" and ratio_c:
                g = goal(ratio_c >= 1000) + " (≥ 1000×)"
            elif model == "resnet50" and ratio_c:
                g = goal(ratio_c >= 100) + " (≥ 100×)"
            w(f"| {model} | {t['nodes']} | {fmt(t['cpu_time'], 1)} ({t['iterations']}) | "
              f"{fmt(q['cpu_time'])} ({q['iterations']}) | {fmt(ratio_c, 1)}× | "
              f"{fmt(t['real_time'], 1)} | {fmt(q['real_time'])} | {fmt(ratio_w, 1)}× | "
              f"{t.get('insertions')} / {q.get('insertions')} | "
              f"{t['load_avg_before']:.1f} → {t['load_avg_after']:.1f} | {g} |")
        w("")
        w("qprepc's own stage times for these runs (ms, last run, from `--stats`):\n")
        w("| model | compile rules | fuse | qconfigs | match | facts | evaluate | plan |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for model, sides in cmp_rows.items():
            q = sides.get("qprepc_prepare")
            if not q:
                continue
            cols = ["compile_rules_ms", "fuse_ms", "qconfigs_ms", "match_ms", "facts_ms",
                    "evaluate_ms", "plan_ms"]
            w(f"| {model} | " + " | ".join(fmt(q.get(c), 3) for c in cols) + " |")
        w("")

    # --- prepare_bench ----------------------------------------------------------------------
    pb = []
    for path in [os.path.join(res, "prepare_bench.json")] + sorted(
            glob.glob(os.path.join(res, "prepare_bench_1m_*.json"))):
        doc = load(path)
        pb += iteration_runs(doc)
    by_name = {b["name"]: b for b in pb}
    stage_cols = ["read_ms", "fuse_ms", "qconfigs_ms", "match_ms", "facts_ms", "evaluate_ms",
                  "plan_ms", "write_ms"]
    files = [b for b in pb if b["name"].startswith(("BM_PrepareFile/", "BM_PrepareChainBlocks/"))]
    if files or "BM_CompileRules" in by_name:
        w("## Prepare in-process, per stage (bench/prepare/prepare_bench)\n")
        w("One iteration: read the .qg text, prepare with rules compiled once per process, "
          "render the plan JSON. Wall time per iteration; stage columns in ms (last iteration).")
        if "BM_CompileRules" in by_name:
            w(f"Compiling the rules (prelude + fbgemm + default mapping) once: "
              f"{fmt(by_name['BM_CompileRules'].get('compile_ms'), 2)} ms.")
        w("")
        w("| graph | nodes | CPU ms | wall ms | CPU µs/node | " + " | ".join(c[:-3] for c in stage_cols)
          + " |")
        w("|---|---:|---:|---:|---:|" + "---:|" * len(stage_cols))
        for b in files:
            name = b["name"].split("/", 1)[1]
            if b["name"].startswith("BM_PrepareChainBlocks/"):
                name = "residual_chain_" + name
            w(f"| {name} | {int(b['nodes'])} | {fmt(cpu_ms(b), 3)} | {fmt(ms(b), 3)} | "
              f"{fmt(cpu_ms(b) * 1e3 / b['nodes'], 2)} | "
              + " | ".join(fmt(b.get(c), 3) for c in stage_cols) + " |")
        w("")

    growth = [b for b in pb if b["name"].startswith(("BM_PrepareChain/", "BM_PrepareWide/"))]
    if growth:
        w("## Growth: generated graphs, 1k to 1M nodes\n")
        w("Residual chain (tests/models/residual_chain.py's structure) and wide branching "
          "(tests/models/wide_branching.py, 16 branches per stage: cat + values with 3 users), "
          "generated as .qg text in C++. peak_rss is the process's peak (1M cases run alone).\n")
        w("| graph | nodes | CPU ms | CPU µs/node | wall ms | read | fuse | qconfigs | facts | evaluate | plan | write | plan MB | peak RSS MB |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for b in growth:
            w(f"| {b['name'][3:]} | {int(b['nodes']):,} | {fmt(cpu_ms(b), 1)} | "
              f"{fmt(cpu_ms(b) * 1e3 / b['nodes'], 2)} | {fmt(ms(b), 1)} | "
              f"{fmt(b.get('read_ms'), 1)} | {fmt(b.get('fuse_ms'), 1)} | "
              f"{fmt(b.get('qconfigs_ms'), 1)} | {fmt(b.get('facts_ms'), 1)} | "
              f"{fmt(b.get('evaluate_ms'), 1)} | {fmt(b.get('plan_ms'), 1)} | "
              f"{fmt(b.get('write_ms'), 1)} | {fmt(b.get('plan_KB', 0) / 1024, 1)} | "
              f"{fmt(b.get('peak_rss_MB'), 0)} |")
        w("")
        w("Stage columns are wall ms of the last iteration (they inflate with the load); CPU "
          "time is the main thread's.\n")
        w("Goals (linear growth), judged on CPU time:\n")
        for shape in ("Chain", "Wide"):
            b10k = by_name.get(f"BM_Prepare{shape}/10000")
            b1m = by_name.get(f"BM_Prepare{shape}/1000000")
            if not b10k or not b1m:
                continue
            r = (cpu_ms(b1m) / b1m["nodes"]) / (cpu_ms(b10k) / b10k["nodes"])
            w(f"- {shape}: CPU µs/node at 1M / at 10k = {r:.2f} — {goal(r <= 2)} (≤ 2); "
              f"1M nodes in {cpu_ms(b1m) / 1e3:.1f} s CPU ({ms(b1m) / 1e3:.1f} s wall) — "
              f"{goal(cpu_ms(b1m) < 5000)} (< 5 s); peak RSS {b1m.get('peak_rss_MB', 0):,.0f} MB"
              f" — {goal(b1m.get('peak_rss_MB', 1e9) < 2048)} (< 2 GB)")
        w("")

    # --- observers --------------------------------------------------------------------------
    obs_q = os.path.join(res, "observer_bench.json")
    obs_t = os.path.join(res, "torch_observers.json")
    if os.path.exists(obs_q) and os.path.exists(obs_t):
        w("## Observer kernels (bench/observers, helper C2's report)\n")
        table = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "observers",
                                                             "report.py"), obs_q, obs_t],
                               capture_output=True, text=True)
        w(table.stdout if table.returncode == 0 else f"(report.py failed: {table.stderr})")

    # --- plots ------------------------------------------------------------------------------
    made = make_plots(plots, cmp_rows, growth, load(obs_q))
    if made:
        w("## Plots\n")
        for png in made:
            w(f"![{os.path.basename(png)}]({os.path.basename(png)})")
        w("")
    print("\n".join(out))
    return 0


def make_plots(directory, cmp_rows, growth, obs_doc):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    os.makedirs(directory, exist_ok=True)
    made = []
    if cmp_rows or growth:
        fig, ax = plt.subplots(figsize=(7, 5))
        chains = sorted((m for m in cmp_rows if m.startswith("residual_chain_")),
                        key=lambda m: cmp_rows[m]["torch_prepare_fx"]["nodes"])
        if chains:
            x = [cmp_rows[m]["torch_prepare_fx"]["nodes"] for m in chains]
            ax.loglog(x, [cmp_rows[m]["torch_prepare_fx"]["cpu_time"] / 1e3 for m in chains],
                      "o-", color="tab:red", label="PyTorch 1.13 prepare_fx, CPU (residual chain)")
            ax.loglog(x, [cmp_rows[m]["qprepc_prepare"]["cpu_time"] / 1e3 for m in chains],
                      "s-", color="tab:blue", label="qprepc process, CPU (residual chain)")
        others = [m for m in cmp_rows if not m.startswith("residual_chain_")]
        for m in others:
            t, q = cmp_rows[m].get("torch_prepare_fx"), cmp_rows[m].get("qprepc_prepare")
            if t and q:
                ax.loglog([t["nodes"]], [t["cpu_time"] / 1e3], "^", color="tab:red")
                ax.loglog([q["nodes"]], [q["cpu_time"] / 1e3], "v", color="tab:blue")
                ax.annotate(m, (t["nodes"], t["cpu_time"] / 1e3), fontsize=7)
        for shape, style in (("Chain", "d--"), ("Wide", "x--")):
            pts = sorted((b["nodes"], cpu_ms(b) / 1e3) for b in growth
                         if b["name"].startswith(f"BM_Prepare{shape}/"))
            if pts:
                ax.loglog([p[0] for p in pts], [p[1] for p in pts], style, color="tab:green",
                          label=f"qprep in-process, CPU ({shape.lower()}, generated)")
        ax.set_xlabel("graph nodes")
        ax.set_ylabel("prepare CPU time (s)")
        ax.set_title("Prepare time vs graph size (log-log)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        path = os.path.join(directory, "benchmarks-prepare-scaling.png")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    runs = iteration_runs(obs_doc)
    if runs:
        q = {b["name"]: b for b in runs}
        rows = []
        for b in runs:
            if b["name"].startswith("Bandwidth") or not b.get("bytes_per_second"):
                continue
            kernel, shape = b["name"].split("/")[:2]
            limit = max(q.get("BandwidthSum/" + shape, {}).get("bytes_per_second", 0),
                        q.get("BandwidthMinMax/" + shape, {}).get("bytes_per_second", 0))
            rows.append((f"{kernel}/{shape}", b["bytes_per_second"] / 1e9, limit / 1e9))
        if rows:
            fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.5))
            ys = range(len(rows))
            ax.barh(ys, [r[2] for r in rows], color="lightgrey", label="read-bandwidth limit")
            ax.barh(ys, [r[1] for r in rows], height=0.5, color="tab:blue", label="qprep kernel")
            ax.set_yticks(list(ys))
            ax.set_yticklabels([r[0] for r in rows], fontsize=7)
            ax.invert_yaxis()
            ax.set_xlabel("GB/s of input read (single thread unless the kernel is threaded)")
            ax.set_title("Observer kernel throughput against the bandwidth limit")
            ax.legend(fontsize=8)
            fig.tight_layout()
            path = os.path.join(directory, "benchmarks-observers-throughput.png")
            fig.savefig(path, dpi=110)
            plt.close(fig)
            made.append(path)
    return made


if __name__ == "__main__":
    sys.exit(main())
