#!/usr/bin/python3
"""PyTorch 1.13's observers on the shapes of observer_bench, single thread.

Measures the same operations as bench/observers/observer_bench.cc under the same names
("<Kernel>/<act|weight>"), with torch.set_num_threads(1), and writes JSON:
    {"context": {...}, "benchmarks": [{"name", "cpu_time_ms", "real_time_ms", "iterations",
                                       "bytes_per_second"}]}
CPU time (time.process_time) is the primary measure, as in observer_bench (the machine is shared;
wall time inflates with other processes' load); --repetitions N reports the median of N runs.

Usage: /usr/bin/python3 bench/observers/compare_torch.py [--min-time SECONDS] [--out FILE]
"""
import argparse
import json
import platform
import sys
import time

import torch
from torch.ao.quantization.observer import (HistogramObserver, MinMaxObserver,
                                            MovingAverageMinMaxObserver,
                                            PerChannelMinMaxObserver)

SHAPES = {"act": (32, 64, 56, 56), "weight": (512, 512, 3, 3)}


def measure(fn, min_time):
    fn()  # warm-up (and the first-batch path of stateful observers)
    iters, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while True:
        fn()
        iters += 1
        cpu = time.process_time() - cpu0
        if (cpu >= min_time and iters >= 3) or iters >= 1000:
            break
    wall = time.perf_counter() - wall0
    return cpu / iters, wall / iters, iters


def cases(x):
    nbytes = x.numel() * 4

    def observe(obs):
        return lambda: obs(x)

    hist = HistogramObserver()
    hist(x)
    yield "MinMax", observe(MinMaxObserver()), nbytes
    yield "MovingAverageMinMax", observe(MovingAverageMinMaxObserver()), nbytes
    for axis in (0, 1):
        yield ("PerChannel_ch%d" % axis,
               observe(PerChannelMinMaxObserver(ch_axis=axis, dtype=torch.qint8,
                                                qscheme=torch.per_channel_symmetric)), nbytes)
    yield "HistogramForward", observe(HistogramObserver()), nbytes
    # Every batch widens the range: the state is reset to one that saw x / 2 before each call
    # (three small tensor copies, ~1e-5 s, inside the timing).
    grow = HistogramObserver()
    grow(x * 0.5)
    narrow = {k: v.clone() for k, v in grow.state_dict().items()}

    def widen():
        grow.min_val.copy_(narrow["min_val"])
        grow.max_val.copy_(narrow["max_val"])
        grow.histogram.copy_(narrow["histogram"])
        grow(x)
    yield "HistogramForwardGrow", widen, nbytes
    yield "HistogramQParams", lambda: hist.calculate_qparams(), None
    yield ("FakeQuantPerTensor",
           lambda: torch.fake_quantize_per_tensor_affine(x, 0.02, 128, 0, 255), nbytes)
    for axis in (0, 1):
        c = x.shape[axis]
        scale = torch.full((c,), 0.02)
        zp = torch.zeros(c, dtype=torch.int32)
        yield ("FakeQuantPerChannel_ch%d" % axis,
               (lambda s=scale, z=zp, a=axis:
                torch.fake_quantize_per_channel_affine(x, s, z, a, -128, 127)), nbytes)
    # The plain read: what observer_bench's BandwidthSum does, as PyTorch does it.
    yield "BandwidthSum", lambda: x.sum(), nbytes
    yield "BandwidthMinMax", lambda: torch.aminmax(x), nbytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--out", default="-")
    ap.add_argument("--filter", default="", help="substring of the benchmark names to run")
    ap.add_argument("--repetitions", type=int, default=1,
                    help="measure each row this many times and report the median")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1234)
    out = {"context": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                       "python": platform.python_version(), "machine": platform.machine(),
                       "processor": platform.processor(),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "benchmarks": []}
    for sname, shape in SHAPES.items():
        x = torch.randn(*shape)
        for name, fn, nbytes in cases(x):
            full = "%s/%s" % (name, sname)
            if args.filter and args.filter not in full:
                continue
            runs = sorted(measure(fn, args.min_time) for _ in range(max(1, args.repetitions)))
            cpu, wall, iters = runs[len(runs) // 2]
            row = {"name": full, "cpu_time_ms": cpu * 1e3, "real_time_ms": wall * 1e3,
                   "iterations": iters}
            if nbytes:
                row["bytes_per_second"] = nbytes / cpu
            out["benchmarks"].append(row)
            print("%-32s %10.3f ms cpu %10.3f ms wall" % (full, cpu * 1e3, wall * 1e3),
                  file=sys.stderr)
    text = json.dumps(out, indent=1) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
