#!/usr/bin/python3
"""Joins observer_bench's JSON (Google Benchmark format) and compare_torch.py's JSON into the
markdown tables of docs/benchmarks-observers.md: per kernel and shape, qprep's time and
throughput, the fraction of the read-bandwidth limit of the same run, PyTorch's time and the
ratio, and whether the issue's goal is met.

observer_bench runs with --benchmark_repetitions (run_compare.sh): every repetition of every row
is in the JSON, interleaved at random with the other rows, so a burst of load on the shared
machine hits a few repetitions of many rows rather than all repetitions of one. The table gives
the median over repetitions (what the goals are judged on) and the minimum (the least disturbed
repetition); each fraction divides like by like (median by median, minimum by minimum).

- limit: the faster of BandwidthSum and BandwidthMinMax of the same shape (the issue's "plain
  read-bandwidth kernel"); "vs prefetch" divides by BandwidthSumPrefetch instead, the same sum
  with the software prefetch the observer kernels issue (a stricter limit on this machine).
- floor: HistogramBound of the same shape, the read plus one counter increment per value
  without the bin arithmetic (the least any exact histogram that increments one counter per
  value does); "vs floor" is given for the histogram rows. The floor's own "fraction" is the
  highest fraction of the read limit such a histogram can reach on the machine.
  HistogramIncrements: the floor's increments without the read (what they cost alone).
- Single-thread rows are CPU time. "<Kernel>_2t" rows are wall time with two threads and are
  reported in a second table against BandwidthSum_2t (the same read split over two threads).

Usage: report.py QPREP.json TORCH.json > report.md
"""
import json
import statistics
import sys

# Issue 5's goals: fraction of the bandwidth kernel (or a time bound in ms).
GOALS = {
    "MinMax": ("fraction", 0.90),
    "PerChannel_ch0": ("fraction", 0.90),
    "PerChannel_ch1": ("fraction", 0.90),
    "HistogramForward": ("fraction", 0.50),
    "HistogramForwardGrow": ("fraction", 0.50),
    "HistogramQParams": ("ms", 1.0),
    "MinMax_2t": ("fraction", 0.90),
    "HistogramForward_2t": ("fraction", 0.50),
    "HistogramForwardGrow_2t": ("fraction", 0.50),
}


SHAPES = ["act", "weight"]
ORDER = ["BandwidthSum", "BandwidthMinMax", "BandwidthSumPrefetch", "MinMax", "MovingAverageMinMax",
         "PerChannel_ch0", "PerChannel_ch1", "HistogramForward", "HistogramForwardGrow",
         "HistogramQParams", "FakeQuantPerTensor", "FakeQuantPerChannel_ch0",
         "FakeQuantPerChannel_ch1", "PercentileForward", "EntropyQParams", "MSEQParams",
         "KernelMinMax", "KernelPerChannel_ch0", "KernelPerChannel_ch1", "KernelHistogram",
         "KernelHistogramMinMax", "HistogramBound", "HistogramIncrements",
         "BandwidthSum_2t", "MinMax_2t", "HistogramForward_2t", "HistogramForwardGrow_2t"]


def ms(b, key):
    unit = b.get("time_unit", "ns")
    return b[key] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def collect(qprep):
    """name -> {"med": ms, "min": ms, "reps": n, "bytes": bytes per call or None}."""
    runs = {}
    order = []
    for b in qprep["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b["name"]
        if name not in runs:
            runs[name] = []
            order.append(name)
        wall = name.endswith("/real_time")
        t = ms(b, "real_time" if wall else "cpu_time")
        bps = b.get("bytes_per_second")
        # bytes per call, recovered from the rate of this repetition.
        nbytes = bps * t / 1e3 if bps else None
        runs[name].append((t, nbytes))
    # Random interleaving shuffles the JSON: list the rows in registration order, per shape.
    def key(name):
        kernel, shape = split(name)
        return (SHAPES.index(shape) if shape in SHAPES else len(SHAPES),
                ORDER.index(kernel) if kernel in ORDER else len(ORDER), name)
    order.sort(key=key)
    out = {}
    for name in order:
        ts = [t for t, _ in runs[name]]
        nbytes = runs[name][0][1]
        out[name] = {"med": statistics.median(ts), "min": min(ts), "reps": len(ts),
                     "bytes": nbytes}
    return order, out


def split(name):
    parts = name.split("/")
    return parts[0], parts[1]


def gbps(row, stat):
    return row["bytes"] / (row[stat] / 1e3) / 1e9 if row["bytes"] else None


def main():
    qprep = json.load(open(sys.argv[1]))
    torch = json.load(open(sys.argv[2]))
    order, q = collect(qprep)
    t = {b["name"]: b for b in torch["benchmarks"]}
    ctx = qprep.get("context", {})
    reps = max(r["reps"] for r in q.values())
    print("qprep: %s, %s x %s MHz, kernels target %s, bandwidth target %s; torch %s, %s thread(s)."
          % (ctx.get("host_name", "?"), ctx.get("num_cpus", "?"), ctx.get("mhz_per_cpu", "?"),
             ctx.get("observer_kernels_target", "?"), ctx.get("bandwidth_target", "?"),
             torch["context"].get("torch"), torch["context"].get("threads")))
    print("Single-thread rows: CPU time per call, median (and minimum) of %d interleaved "
          "repetitions; GB/s = 1e9 bytes/s of input read." % reps)
    print("Load average when the qprep run started: %s." % (ctx.get("load_avg", "?"),))
    print()

    def limit_row(shape):
        cands = [q.get(k + "/" + shape) for k in ("BandwidthSum", "BandwidthMinMax")]
        cands = [c for c in cands if c]
        return min(cands, key=lambda c: c["med"]) if cands else None

    def limit_min(shape):
        cands = [q.get(k + "/" + shape) for k in ("BandwidthSum", "BandwidthMinMax")]
        return min(c["min"] for c in cands if c)

    print("| kernel | shape | qprep ms (median) | min ms | GB/s | limit GB/s | fraction "
          "(median) | fraction (min) | vs prefetch | vs floor | torch ms | torch / qprep | goal |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    two_thread = []
    for name in order:
        kernel, shape = split(name)
        if kernel.endswith("_2t"):
            two_thread.append(name)
            continue
        row = q[name]
        lim = limit_row(shape)
        pf = q.get("BandwidthSumPrefetch/" + shape)
        frac = frac_min = frac_pf = None
        if row["bytes"] and lim:
            frac = lim["med"] / row["med"]
            frac_min = limit_min(shape) / row["min"]
            if pf:
                frac_pf = pf["med"] / row["med"]
        floor = q.get("HistogramBound/" + shape)
        frac_floor = (floor["med"] / row["med"]
                      if floor and "Histogram" in kernel
                      and kernel not in ("HistogramBound", "HistogramIncrements")
                      and row["bytes"] else None)
        tb = t.get(name)
        torch_ms = tb["cpu_time_ms"] if tb else None
        ratio = torch_ms / row["med"] if torch_ms else None
        goal = judge(kernel, frac, row["med"])
        print("| %s | %s | %.3f | %.3f | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            kernel, shape, row["med"], row["min"],
            fmt(gbps(row, "med"), "%.2f"), fmt(gbps(lim, "med") if row["bytes"] else None, "%.2f"),
            pct(frac), pct(frac_min), pct(frac_pf), pct(frac_floor),
            fmt(torch_ms, "%.3f"), fmt(ratio, "%.2fx"), goal))

    if two_thread:
        print()
        print("Two threads (ObserverOptions::num_threads = 2), wall time per call, median (and "
              "minimum) of the repetitions, against BandwidthSum_2t (the plain sum split over "
              "the same two threads); the single-thread fraction of the same kernel beside it.")
        print()
        print("| kernel | shape | wall ms (median) | min ms | 2-thread read ms | fraction "
              "(median) | fraction (min) | 1-thread fraction (median) | goal |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for name in two_thread:
            kernel, shape = split(name)
            row = q[name]
            bw = q.get("BandwidthSum_2t/" + shape + "/real_time")
            frac = bw["med"] / row["med"] if bw and row["bytes"] else None
            frac_min = bw["min"] / row["min"] if bw and row["bytes"] else None
            single = q.get(kernel[:-3] + "/" + shape)
            lim = limit_row(shape)
            frac1 = lim["med"] / single["med"] if single and lim and single["bytes"] else None
            print("| %s | %s | %.3f | %.3f | %s | %s | %s | %s | %s |" % (
                kernel, shape, row["med"], row["min"], fmt(bw["med"] if bw else None, "%.3f"),
                pct(frac), pct(frac_min), pct(frac1), judge(kernel, frac, row["med"])))


def judge(kernel, frac, med_ms):
    if kernel not in GOALS:
        return ""
    kind, bound = GOALS[kernel]
    if kind == "fraction" and frac is not None:
        return ("met" if frac >= bound else "**missed**") + " (>= %.0f%%)" % (bound * 100)
    if kind == "ms":
        return ("met" if med_ms < bound else "**missed**") + " (< %g ms)" % bound
    return ""


def fmt(v, f):
    return f % v if v is not None else ""


def pct(v):
    return "%.0f%%" % (v * 100) if v is not None else ""


if __name__ == "__main__":
    main()
