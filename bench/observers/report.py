#!/usr/bin/python3
"""Joins observer_bench's JSON (Google Benchmark format) and compare_torch.py's JSON into the
markdown tables of docs/benchmarks-observers.md: per kernel and shape, qprep's time and
throughput, the fraction of the read-bandwidth limit of the same run, PyTorch's time and the
ratio, and whether the issue's goal is met.

Usage: report.py QPREP.json TORCH.json > report.md
"""
import json
import sys

# Issue 5's goals: fraction of the bandwidth kernel (or a time bound in ms).
GOALS = {
    "MinMax": ("fraction", 0.90),
    "PerChannel_ch0": ("fraction", 0.90),
    "PerChannel_ch1": ("fraction", 0.90),
    "HistogramForward": ("fraction", 0.50),
    "HistogramQParams": ("ms", 1.0),
}


def to_ms(b):
    unit = b.get("time_unit", "ns")
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return b["cpu_time"] * scale, b["real_time"] * scale


def main():
    qprep = json.load(open(sys.argv[1]))
    torch = json.load(open(sys.argv[2]))
    q = {}
    for b in qprep["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        q[b["name"]] = b
    t = {b["name"]: b for b in torch["benchmarks"]}
    ctx = qprep.get("context", {})
    print("qprep: %s, %s x %s MHz, kernels target %s, bandwidth target %s; torch %s, %s thread(s)."
          % (ctx.get("host_name", "?"), ctx.get("num_cpus", "?"), ctx.get("mhz_per_cpu", "?"),
             ctx.get("observer_kernels_target", "?"), ctx.get("bandwidth_target", "?"),
             torch["context"].get("torch"), torch["context"].get("threads")))
    print("Times are CPU time per call (single thread); GB/s = 1e9 bytes/s of input read.")
    print("Load average during the qprep run: %s." % (ctx.get("load_avg", "?"),))
    print()
    print("| kernel | shape | qprep ms | qprep GB/s | limit GB/s | fraction | torch ms | torch / qprep | goal |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    names = []
    for b in qprep["benchmarks"]:
        if b["name"] not in names and b.get("run_type", "iteration") == "iteration":
            names.append(b["name"])
    for name in names:
        kernel, shape = name.split("/")[:2]
        b = q[name]
        cpu_ms, _ = to_ms(b)
        bps = b.get("bytes_per_second")
        limit = max(q.get("BandwidthSum/" + shape, {}).get("bytes_per_second", 0),
                    q.get("BandwidthMinMax/" + shape, {}).get("bytes_per_second", 0))
        frac = bps / limit if bps and limit else None
        tb = t.get(name)
        torch_ms = tb["cpu_time_ms"] if tb else None
        ratio = torch_ms / cpu_ms if torch_ms and cpu_ms else None
        goal = ""
        if kernel in GOALS:
            kind, bound = GOALS[kernel]
            if kind == "fraction" and frac is not None:
                goal = ("met" if frac >= bound else "**missed**") + " (>= %.0f%%)" % (bound * 100)
            elif kind == "ms":
                goal = ("met" if cpu_ms < bound else "**missed**") + " (< %g ms)" % bound
        print("| %s | %s | %.3f | %s | %s | %s | %s | %s | %s |" % (
            kernel, shape, cpu_ms,
            "%.2f" % (bps / 1e9) if bps else "",
            "%.2f" % (limit / 1e9) if limit and bps else "",
            "%.0f%%" % (frac * 100) if frac is not None else "",
            "%.3f" % torch_ms if torch_ms else "",
            "%.2fx" % ratio if ratio else "",
            goal))


if __name__ == "__main__":
    main()
