#!/usr/bin/env python3
"""Writes tests/ir/data/floats.txt: doubles and Python's repr of each, the golden for
ir::FormatFloat (the .qg printer prints floats as Python's repr does, because that is what
tools/export_fx.py writes).

Each line: the double's 64 bits as 16 hex digits, a space, repr(value).
Regenerate: /usr/bin/python3 tests/ir/gen_float_goldens.py > tests/ir/data/floats.txt
"""
import math
import random
import struct


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def main():
    rng = random.Random(20261127)
    values = [0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 100.0, 1e-05, 1e-4, 1e-3, 0.0001, 0.00012345,
              1e15, 1e16, 1e17, 9999999999999998.0, 1234567890123456.7, 1e22, 1e23, 1e-7,
              2.0 ** 53, 2.0 ** 63, 2.0 ** 64, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
              math.inf, -math.inf, 0.1 + 0.2, 1 / 3, 2 / 3, 255.0 / 256.0, 1.1920928955078125e-07,
              0.007874015718698502, 3.4028234663852886e38]
    for e in range(-30, 31):
        values.append(10.0 ** e)
        values.append(-1.2345 * 10.0 ** e)
    for _ in range(1500):
        while True:
            x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
            if math.isfinite(x):
                break
        values.append(x)
    for _ in range(500):
        values.append(round(rng.uniform(-1000, 1000), rng.randint(0, 8)))
    for _ in range(300):
        values.append(rng.uniform(0, 1) * 10.0 ** rng.randint(-12, 20))
    for v in values:
        print(f"{bits(v):016x} {v!r}")


if __name__ == "__main__":
    main()
