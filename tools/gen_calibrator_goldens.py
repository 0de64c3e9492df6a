#!/usr/bin/python3
"""Goldens for the calibrators beyond PyTorch (backends/cpu/calibrate/calibrators_extra.*).

An independent, deliberately plain implementation of the definitions in docs/calibration.md:
the canonical power-of-two histogram (computed in one shot over all batches, where the C++ code
builds it batch by batch -- the two agree only if the histogram really is order-independent),
then the Percentile, Entropy (KL, TensorRT / MXNet style) and MSE range choices, with sums
accumulated sequentially in index order exactly as the C++ does (so argmin ties break alike).
Scale and zero point come from PyTorch itself: a MinMaxObserver with the same dtype / qscheme /
quant range whose min_val / max_val are set to the chosen range, then calculate_qparams().

Run with Debian's python3 (numpy + torch 1.13):
    /usr/bin/python3 tools/gen_calibrator_goldens.py > tests/calibrate/data/calibrator_goldens.json
"""
import json
import math
import sys

import numpy as np
import torch
from torch.ao.quantization.observer import MinMaxObserver

K_MIN_EXP = -160
TWO53 = float(2 ** 53)


def fit_exp(lo, hi, nbins):
    """Smallest e >= K_MIN_EXP with floor(hi/2^e) - floor(lo/2^e) < nbins and both < 2^53."""
    e = K_MIN_EXP
    while True:
        a = math.floor(math.ldexp(hi, -e))
        b = math.floor(math.ldexp(lo, -e))
        if a - b < nbins and abs(a) < TWO53 and abs(b) < TWO53:
            return e
        e += 1


class Hist:
    def __init__(self, x, nbins, use_abs):
        x = np.asarray(x, dtype=np.float32)
        finite = x[np.isfinite(x)]
        self.nonfinite = int(x.size - finite.size)
        self.total = int(finite.size)
        self.use_abs = use_abs
        if finite.size == 0:
            self.exp, self.lo, self.counts = K_MIN_EXP, 0, []
            return
        self.xmin = np.float32(finite.min())
        self.xmax = np.float32(finite.max())
        v = np.abs(finite) if use_abs else finite
        self.hmin = np.float32(v.min())
        self.hmax = np.float32(v.max())
        self.exp = fit_exp(0.0 if use_abs else float(self.hmin), float(self.hmax), nbins)
        self.lo = 0 if use_abs else math.floor(math.ldexp(float(self.hmin), -self.exp))
        hi = math.floor(math.ldexp(float(self.hmax), -self.exp))
        idx = np.floor(v.astype(np.float64) * math.ldexp(1.0, -self.exp)).astype(np.int64) - self.lo
        self.counts = [int(c) for c in np.bincount(idx, minlength=hi - self.lo + 1)]

    def edge(self, i):
        return math.ldexp(float(self.lo + i), self.exp)


def from_threshold(h, t):
    tf = np.float32(min(t, float(h.hmax)))
    return max(h.xmin, -tf), min(h.xmax, tf)


def first_reaching(counts, target):
    cum = 0
    for i, c in enumerate(counts):
        cum += c
        if float(cum) >= target:
            return i
    return len(counts) - 1


def percentile_range(h, percentile):
    total = float(h.total)
    if h.use_abs:
        i = first_reaching(h.counts, total * (percentile / 100.0))
        return from_threshold(h, h.edge(i + 1))
    cut = (100.0 - percentile) / 200.0
    i = first_reaching(h.counts, total * cut)
    j = first_reaching(h.counts, total * (1.0 - cut))
    return (np.float32(max(h.edge(i), float(h.hmin))), np.float32(min(h.edge(j + 1), float(h.hmax))))


def smooth(p):
    eps = 0.0001
    zeros = sum(1 for v in p if v == 0)
    nonzeros = len(p) - zeros
    if nonzeros == 0:
        return None
    eps1 = eps * float(zeros) / float(nonzeros)
    out = []
    for v in p:
        if v == 0:
            out.append(eps)
        else:
            v = v - eps1
            if v <= 0:
                return None
            out.append(v)
    return out


def kl(p, q):
    sp = 0.0
    for v in p:
        sp += v
    sq = 0.0
    for v in q:
        sq += v
    s = 0.0
    for pk, qk in zip(p, q):
        pk, qk = pk / sp, qk / sq
        s += pk * math.log(pk / qk)
    return s


def entropy_range(h, nq):
    hist = h.counts
    nbins = len(hist)
    if nbins <= nq:
        return from_threshold(h, float(h.hmax))
    suffix = [0] * (nbins + 1)
    for k in range(nbins - 1, -1, -1):
        suffix[k] = suffix[k + 1] + hist[k]
    best, best_i = math.inf, nbins
    for i in range(nq, nbins + 1):
        p = [float(c) for c in hist[:i]]
        p[i - 1] += float(suffix[i])
        merged = i // nq
        q = [0.0] * i
        for j in range(nq):
            start = j * merged
            stop = i if j == nq - 1 else start + merged
            level = float(sum(hist[start:stop]))
            norm = sum(1 for k in range(start, stop) if p[k] != 0)
            if norm == 0:
                continue
            val = level / float(norm)
            for k in range(start, stop):
                q[k] = val if p[k] != 0 else 0.0
        ps, qs = smooth(p), smooth(q)
        if ps is None or qs is None:
            continue
        d = kl(ps, qs)
        if d < best:
            best, best_i = d, i
    return from_threshold(h, h.edge(best_i))


def qparams(obs, lo, hi):
    obs.min_val = torch.tensor(float(lo), dtype=torch.float32)
    obs.max_val = torch.tensor(float(hi), dtype=torch.float32)
    s, z = obs.calculate_qparams()
    return np.float32(s.item()), int(z.item())


def mse_range(h, obs, num_candidates):
    half = math.ldexp(1.0, h.exp - 1)
    qmin, qmax = float(obs.quant_min), float(obs.quant_max)
    lo_full = min(float(h.hmin), 0.0)
    hi_full = max(float(h.hmax), 0.0)
    best, best_range = math.inf, None
    centres = [h.edge(k) + half for k in range(len(h.counts))]
    for j in range(num_candidates, 0, -1):
        alpha = float(j) / float(num_candidates)
        if h.use_abs:
            rng = from_threshold(h, hi_full * alpha)
        else:
            rng = (np.float32(lo_full * alpha), np.float32(hi_full * alpha))
        s, z = qparams(obs, rng[0], rng[1])
        s, z = float(s), float(z)
        err = 0.0
        for c, centre in zip(h.counts, centres):
            if c == 0:
                continue
            qv = min(max(float(np.rint(centre / s)) + z, qmin), qmax)
            d = (qv - z) * s - centre
            err += float(c) * d * d
        if err < best:
            best, best_range = err, rng
    return best_range


DTYPES = {"quint8": torch.quint8, "qint8": torch.qint8}
QSCHEMES = {"per_tensor_affine": torch.per_tensor_affine,
            "per_tensor_symmetric": torch.per_tensor_symmetric}


def run_case(name, cls, args, batches):
    dtype = args.get("dtype", "quint8")
    qscheme = args.get("qscheme", "per_tensor_affine")
    bins = args.get("bins", 2048)
    obs = MinMaxObserver(dtype=DTYPES[dtype], qscheme=QSCHEMES[qscheme],
                         reduce_range=args.get("reduce_range", False),
                         quant_min=args.get("quant_min"), quant_max=args.get("quant_max"))
    use_abs = cls == "EntropyObserver" or qscheme == "per_tensor_symmetric"
    allx = np.concatenate([np.asarray(b, dtype=np.float32).ravel() for b in batches])
    h = Hist(allx, bins, use_abs)
    if cls == "PercentileObserver":
        rng = percentile_range(h, args.get("percentile", 99.999))
    elif cls == "EntropyObserver":
        rng = entropy_range(h, args.get("num_quantized_bins", 128))
    else:
        rng = mse_range(h, obs, args.get("num_candidates", 512))
    s, z = qparams(obs, rng[0], rng[1])
    spec = "%s(%s)" % (cls, ", ".join("%s=%s" % (k, json.dumps(v) if not isinstance(v, str) else v)
                                        for k, v in args.items()))
    spec = spec.replace("true", "True").replace("false", "False")
    return {
        "name": name, "spec": spec,
        "batches": [{"shape": list(np.asarray(b).shape),
                     # Non-finite values as the strings "nan", "inf", "-inf" (JSON has none).
                     "data": [float(v) if np.isfinite(v) else str(float(v))
                              for v in np.asarray(b, dtype=np.float32).ravel()]}
                    for b in batches],
        "exp": h.exp, "lo": h.lo, "counts": h.counts, "total": h.total, "nonfinite": h.nonfinite,
        "min_val": float(rng[0]), "max_val": float(rng[1]),
        "scale": float(s), "zero_point": z,
    }


def main():
    rng = np.random.default_rng(20261127)
    f32 = np.float32

    def normal(*shape, loc=0.0, scale=1.0):
        return rng.normal(loc, scale, size=shape).astype(f32)

    with_specials = normal(600)
    with_specials[[3, 100, 200]] = [np.nan, np.inf, -np.inf]
    cases = [
        ("percentile_sym_normal", "PercentileObserver",
         {"percentile": 99.9, "bins": 512, "dtype": "qint8", "qscheme": "per_tensor_symmetric"},
         [normal(4, 150), normal(600, scale=2.0), normal(10, 60)]),
        ("percentile_affine_uniform", "PercentileObserver", {"percentile": 99.0, "bins": 256},
         [rng.uniform(-1, 3, size=700).astype(f32), rng.uniform(-2, 1, size=500).astype(f32)]),
        ("percentile_default_laplace", "PercentileObserver", {},
         [rng.laplace(0, 1, size=1200).astype(f32), rng.laplace(0.5, 3, size=800).astype(f32)]),
        ("percentile_relu_reduce_range", "PercentileObserver",
         {"percentile": 99.99, "bins": 1024, "reduce_range": True},
         [np.maximum(normal(900), 0), np.maximum(normal(900, scale=4), 0)]),
        ("percentile_nonfinite", "PercentileObserver", {"percentile": 99.5, "bins": 128},
         [with_specials]),
        ("percentile_all_equal", "PercentileObserver", {}, [np.full(50, 3.0, f32), np.full(7, 3.0, f32)]),
        ("percentile_single", "PercentileObserver", {"dtype": "qint8"}, [np.array([-0.75], f32)]),
        ("entropy_sym_normal_small", "EntropyObserver",
         {"bins": 256, "num_quantized_bins": 32, "dtype": "qint8", "qscheme": "per_tensor_symmetric"},
         [normal(1500), normal(500, scale=0.5)]),
        ("entropy_relu_affine", "EntropyObserver", {"bins": 512, "num_quantized_bins": 64},
         [np.maximum(normal(2000), 0), np.maximum(rng.laplace(0, 2, 1000).astype(f32), 0)]),
        ("entropy_default_laplace", "EntropyObserver", {"dtype": "qint8", "qscheme": "per_tensor_symmetric"},
         [rng.laplace(0, 1, size=3000).astype(f32), rng.laplace(0, 1, size=3000).astype(f32)]),
        ("mse_sym_normal", "MSEObserver",
         {"bins": 512, "num_candidates": 64, "dtype": "qint8", "qscheme": "per_tensor_symmetric"},
         [normal(1000), normal(1000, scale=3.0)]),
        ("mse_affine_skewed", "MSEObserver", {"bins": 256, "num_candidates": 100},
         [rng.gamma(2.0, 1.0, 1500).astype(f32) - f32(1.0)]),
        ("mse_default_normal", "MSEObserver", {},
         [normal(2000, loc=0.3), rng.standard_t(3, 2000).astype(f32)]),
    ]
    out = {"format": "qprep.calibrator_goldens", "version": 1,
           "generator": "tools/gen_calibrator_goldens.py", "torch": torch.__version__,
           "cases": []}
    for name, cls, args, batches in cases:
        out["cases"].append(run_case(name, cls, args, batches))
        print("done", name, file=sys.stderr)
    json.dump(out, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
