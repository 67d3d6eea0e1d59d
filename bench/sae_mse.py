"""Fay–Herriot MSE check at city scale: 168 wards, many replicates (issue 17).

For each replicate: draw ward effects and direct estimates from the model, fit (REML and ML), and
compare the average estimated MSE (Prasad–Rao / Datta–Lahiri) with the empirical MSE of the EBLUP;
also the direct estimates' MSE, to show what borrowing strength gains. Prints numbers; asserts nothing.

    .venv/bin/python bench/sae_mse.py --reps 2000
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from analysis import sae


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wards", type=int, default=168)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--A", type=float, default=0.002, help="between-ward variance (default 0.002: SD 0.045)")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    m = args.wards
    kind = rng.choice(3, m, p=[0.6, 0.3, 0.1])
    last = rng.uniform(0.5, 0.9, m)
    X = np.column_stack([np.ones(m), kind == 1, kind == 2, last]).astype(float)
    n = rng.integers(8, 60, m)                       # respondents per ward
    mean = X @ np.array([0.15, 0.04, -0.03, 0.75])
    D = np.maximum(mean * (1 - mean), 0.05) / n * 1.3
    for method in ("REML", "ML"):
        err2 = np.zeros(m)
        est = np.zeros(m)
        zero = 0
        t0 = time.perf_counter()
        for _ in range(args.reps):
            theta = mean + rng.normal(0, np.sqrt(args.A), m)
            y = theta + rng.normal(0, np.sqrt(D))
            fit = sae.fit(y, D, X, method=method)
            err2 += (fit.eblup - theta) ** 2
            est += fit.mse
            zero += fit.A == 0
        secs = time.perf_counter() - t0
        emp, mse = err2 / args.reps, est / args.reps
        ratio = mse / emp
        print(f"{method}: {m} wards x {args.reps} replicates in {secs:.1f} s ({1e3 * secs / args.reps:.1f} ms/fit); "
              f"A-hat = 0 in {zero} replicates")
        print(f"  average estimated MSE / empirical MSE: {mse.sum() / emp.sum():.4f} "
              f"(per ward: median {np.median(ratio):.3f}, 5-95 % {np.quantile(ratio, 0.05):.3f}.."
              f"{np.quantile(ratio, 0.95):.3f})")
        print(f"  empirical MSE of the EBLUP / of the direct estimate: {emp.sum() / D.sum():.3f}")


if __name__ == "__main__":
    main()
