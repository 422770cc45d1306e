#!/usr/bin/env python3
"""Reference vectors for the Rust Mann-Whitney U / Hodges-Lehmann / summary code.

Run (from the repository root):

    python3 -m venv /tmp/statsref-venv
    /tmp/statsref-venv/bin/pip install scipy numpy
    mkdir -p crates/core/tests/data
    /tmp/statsref-venv/bin/python3 scripts/stats-reference.py > crates/core/tests/data/stats_reference.json

The JSON goes to stdout; cross-checks go to stderr. Output is deterministic (fixed
numpy default_rng seeds, generated floats rounded to 6 decimals so the JSON holds
the exact inputs). The scipy and numpy versions used are recorded in the file.

Definitions per case (x has n values, y has m, N = n*m):
  summary_x / summary_y: count, mean (numpy.mean), median, p95 = numpy.percentile(v, 95)
      (default "linear" method, Hyndman-Fan type 7).
  u: Mann-Whitney U of x = #(x_i > y_j) + 0.5 * #(x_i == y_j)  (scipy's U1).
  method: "exact" if the pooled sample has no ties and N <= 2500, else "asymptotic".
  p: scipy.stats.mannwhitneyu(x, y, alternative=alt, method=method,
      use_continuity=True).pvalue for alt in two-sided / greater / less
      ("greater" = x tends to be larger). null if scipy returns nan.
  sigma_u (asymptotic only, else null):
      sqrt(n*m/12 * ((n+m+1) - sum(t^3 - t) / ((n+m)*(n+m-1)))), t = tie-group sizes
      of the pooled sample (the bracket is evaluated exactly, as a fraction).
  hl: numpy.median of the N pairwise differences x_i - y_j.
  hl_ci_95: [d_k, d_{N+1-k}] (1-based order statistics of the sorted differences),
      k = largest c in 1..floor(N/2) with P(U <= c-1) <= 0.025 under H0, else k = 1.
      exact: P from the exact null distribution of U (integer counts of arrangements,
             Gaussian binomial coefficient, divided by C(n+m, n)).
      asymptotic: P = Phi((c - 1 + 0.5 - N/2) / sigma_u); when sigma_u == 0 (all values
             equal) the argument is -inf, so P = 0 and k = floor(N/2).
"""
import json
import math
import sys
from fractions import Fraction

import numpy as np
import scipy
from scipy import stats

ALTS = ("two-sided", "greater", "less")
EXACT_MAX_N = 2500


def r6(a):
    return [float(v) for v in np.round(np.asarray(a, dtype=float), 6)]


def ints(a):
    return [float(v) for v in np.asarray(a)]


def has_ties(v):
    return len(set(v)) != len(v)


# ---------------------------------------------------------------- exact null law
def u_counts(n, m):
    """counts[u] = number of arrangements of n x's and m y's with U = u, u = 0..n*m.

    Generating function = Gaussian binomial [n+m choose n]_q
      = prod_{i=1..n} (1 - q^(m+i)) / (1 - q^i), evaluated with Python ints.
    """
    size = n * m + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, n + 1):
        # multiply by (1 - q^(m+i)), truncating at degree n*m (the product is exact
        # there: the final polynomial has degree n*m)
        s = m + i
        for d in range(size - 1, s - 1, -1):
            poly[d] -= poly[d - s]
        # divide by (1 - q^i): running sum with step i
        for d in range(i, size):
            poly[d] += poly[d - i]
    assert sum(poly) == math.comb(n + m, n)
    assert all(c >= 0 for c in poly)
    assert poly == poly[::-1]
    return poly


def u_counts_dp(n, m):
    """Plain recursion f(n,m,u) = f(n-1,m,u-m) + f(n,m-1,u), for cross-checking."""
    f = {}
    for a in range(n + 1):
        for b in range(m + 1):
            if a == 0 or b == 0:
                f[a, b] = [1] + [0] * (a * b)
                continue
            arr = [0] * (a * b + 1)
            left = f[a - 1, b]  # last element is an x above all b y's: +b
            for u, c in enumerate(left):
                arr[u + b] += c
            right = f[a, b - 1]  # last element is a y: U unchanged
            for u, c in enumerate(right):
                arr[u] += c
            f[a, b] = arr
    return f[n, m]


# ---------------------------------------------------------------- per-case numbers
def tie_sizes(pooled):
    _, counts = np.unique(np.asarray(pooled), return_counts=True)
    return [int(c) for c in counts]


def sigma_u(n, m, ties):
    big = n + m
    tie_term = sum(t ** 3 - t for t in ties)
    bracket = Fraction(big + 1) - Fraction(tie_term, big * (big - 1))
    assert bracket >= 0
    return math.sqrt(float(Fraction(n * m, 12) * bracket))


def summary(v):
    a = np.asarray(v, dtype=float)
    return {
        "count": int(a.size),
        "mean": float(np.mean(a)),
        "median": float(np.median(a)),
        "p95": float(np.percentile(a, 95)),
    }


def clean(p):
    p = float(p)
    return None if math.isnan(p) else p


notes = []


def build_case(name, x, y):
    n, m = len(x), len(y)
    N = n * m
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pooled = list(x) + list(y)
    ties = has_ties(pooled)
    method = "exact" if (not ties and N <= EXACT_MAX_N) else "asymptotic"

    u = float(stats.mannwhitneyu(xa, ya).statistic)
    # brute-force U
    gt = int(np.sum(xa[:, None] > ya[None, :]))
    eq = int(np.sum(xa[:, None] == ya[None, :]))
    assert u == gt + 0.5 * eq, (name, u, gt, eq)

    p = {}
    for alt in ALTS:
        p[alt] = clean(stats.mannwhitneyu(xa, ya, alternative=alt, method=method,
                                          use_continuity=True).pvalue)
        if p[alt] is None:
            notes.append(f"{name}: scipy p-value nan for {alt}")

    d = np.sort((xa[:, None] - ya[None, :]).ravel())
    assert d.size == N
    hl = float(np.median(d))

    half = N // 2
    if method == "exact":
        sig = None
        counts = u_counts(n, m)
        total = math.comb(n + m, n)
        if N <= 150:
            assert counts == u_counts_dp(n, m), name
        # cross-check scipy's exact p-values against the exact counts
        ui = int(u)
        cdf_u = Fraction(sum(counts[: ui + 1]), total)      # P(U <= u)
        sf_u = Fraction(sum(counts[ui:]), total)             # P(U >= u)
        two = min(1.0, 2 * float(min(cdf_u, sf_u)))
        for alt, ref in (("less", float(cdf_u)), ("greater", float(sf_u)), ("two-sided", two)):
            rel = abs(p[alt] - ref) / ref
            if rel > 1e-12:
                notes.append(f"{name}: scipy exact p[{alt}]={p[alt]!r} vs exact counts "
                             f"{ref!r} (rel {rel:.2e})")
            assert rel < 1e-9, (name, alt, p[alt], ref)
        k = 1
        cum = 0
        for c in range(1, half + 1):
            cum += counts[c - 1]                      # cum = #(U <= c-1)
            exact_ok = Fraction(cum, total) <= Fraction(1, 40)
            float_ok = (cum / total) <= 0.025
            assert exact_ok == float_ok, (name, c)   # boundary not fragile
            if exact_ok:
                k = c
            else:
                break
    else:
        sig = sigma_u(n, m, tie_sizes(pooled))
        c = np.arange(1, half + 1, dtype=np.int64)
        if sig == 0.0:
            prob = np.zeros(c.size)
        else:
            prob = stats.norm.cdf((c - 1 + 0.5 - N / 2) / sig)
        ok = prob <= 0.025
        # monotone in c: the admissible c form a prefix
        assert not np.any(ok[1:] & ~ok[:-1]), name
        k = int(np.count_nonzero(ok)) or 1
        near = c[np.abs(prob - 0.025) < 1e-12]
        if near.size:
            notes.append(f"{name}: asymptotic P(U<=c-1) within 1e-12 of 0.025 at c={near.tolist()}")
        if sig == 0.0:
            notes.append(f"{name}: sigma_u = 0 (all values equal); scipy p = "
                         f"{p['two-sided']}/{p['greater']}/{p['less']}, k = floor(N/2) = {k}")
    lo, hi = float(d[k - 1]), float(d[N - k])
    print(f"{name:28s} n={n:5d} m={m:5d} {method:10s} u={u:<10g} k={k:<8d} "
          f"p2={p['two-sided']!r}", file=sys.stderr)

    return {
        "name": name,
        "x": [float(v) for v in x],
        "y": [float(v) for v in y],
        "method": method,
        "u": u,
        "sigma_u": sig,
        "p": p,
        "hl": hl,
        "hl_ci_95": [lo, hi],
        "summary_x": summary(x),
        "summary_y": summary(y),
    }


# ---------------------------------------------------------------- the cases
def continuous_no_ties(rng, n, m, shift, scale=1.0):
    while True:
        x = r6(rng.normal(shift, scale, n))
        y = r6(rng.normal(0.0, 1.0, m))
        if not has_ties(x + y):
            return x, y


def cases():
    out = []

    # tiny, continuous, no ties -> exact
    rng = np.random.default_rng(20240101)
    tiny = [(3, 3, 0.0), (3, 4, 1.0), (4, 3, -1.0), (4, 4, 0.5), (5, 5, 0.0), (5, 7, 1.5),
            (6, 9, -0.7), (8, 8, 0.3), (10, 7, 2.0), (12, 12, 0.8), (3, 12, 0.0), (12, 3, -2.5)]
    for i, (n, m, s) in enumerate(tiny, 1):
        x, y = continuous_no_ties(rng, n, m, s)
        out.append((f"tiny_no_ties_{i:02d}", x, y))

    # tiny with exactly one tie (shared value across samples) -> asymptotic
    rng = np.random.default_rng(20240102)
    for i, (n, m) in enumerate([(4, 5), (7, 6)], 1):
        x, y = continuous_no_ties(rng, n, m, 0.4)
        y[0] = x[0]
        out.append((f"tiny_one_tie_{i:02d}", x, y))

    # small integer samples with many ties -> asymptotic
    rng = np.random.default_rng(20240103)
    small = [(5, 6, 0, 4, 0), (8, 8, 0, 3, 0), (10, 12, 1, 6, 1), (12, 9, 0, 5, -1),
             (15, 20, 0, 9, 2), (20, 15, 0, 2, 0), (6, 25, 0, 5, 1), (30, 10, 0, 4, 0)]
    for i, (n, m, lo, hi, shift) in enumerate(small, 1):
        x = ints(rng.integers(lo, hi + 1, n) + shift)
        y = ints(rng.integers(lo, hi + 1, m))
        out.append((f"small_ties_{i:02d}", x, y))

    # medium, lognormal continuous (some exact, N <= 2500, some asymptotic)
    rng = np.random.default_rng(20240104)
    medium = [(30, 30, 0.0), (30, 80, 0.3), (40, 60, -0.2), (50, 50, 0.1),   # exact
              (41, 61, 0.2),                                                 # N = 2501
              (60, 120, 0.25), (90, 180, -0.1), (75, 40, 0.5), (90, 90, 0.0)]
    for i, (n, m, mu) in enumerate(medium, 1):
        while True:
            x = r6(rng.lognormal(3.0 + mu, 0.8, n))
            y = r6(rng.lognormal(3.0, 0.8, m))
            if not has_ties(x + y):
                break
        out.append((f"medium_lognormal_{i:02d}", x, y))

    # many zeros: Poisson counts
    rng = np.random.default_rng(20240105)
    pois = [(10, 12, 0.3, 0.3), (25, 30, 0.5, 0.8), (40, 40, 1.0, 1.0), (60, 45, 2.0, 1.2),
            (15, 80, 0.3, 0.6), (50, 20, 1.5, 0.4)]
    for i, (n, m, lx, ly) in enumerate(pois, 1):
        x = ints(rng.poisson(lx, n))
        y = ints(rng.poisson(ly, m))
        out.append((f"poisson_zeros_{i:02d}", x, y))

    # degenerate: every value identical in both samples
    out.append(("identical_all_equal_01", [1.5] * 5, [1.5] * 7))
    out.append(("identical_all_zero_02", [0.0] * 20, [0.0] * 30))

    # x far above y, N > 2500 and no ties -> asymptotic, p ~ 1e-21
    rng = np.random.default_rng(20240106)
    x, y = continuous_no_ties(rng, 60, 60, 100.0)
    out.append(("shifted_far_above", x, y))

    # large continuous
    rng = np.random.default_rng(20240107)
    while True:
        x = r6(rng.lognormal(3.05, 0.8, 2000))
        y = r6(rng.lognormal(3.0, 0.8, 2000))
        if not has_ties(x + y):
            break
    out.append(("large_lognormal_2000", x, y))
    return out


def main():
    built = [build_case(name, x, y) for name, x, y in cases()]

    # extra sanity: the Gaussian-binomial counts vs the recursion on a few shapes
    for n, m in [(1, 1), (2, 5), (5, 2), (6, 7), (9, 9)]:
        assert u_counts(n, m) == u_counts_dp(n, m)

    doc = {"generator": "scripts/stats-reference.py", "scipy": scipy.__version__,
           "numpy": np.__version__, "cases": built}
    json.dumps(doc, allow_nan=False)  # fail on nan/inf

    # one key per line inside each case, values compact (arrays on one line)
    w = sys.stdout.write
    w("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(doc[k])}"
                      for k in ("generator", "scipy", "numpy")) + ",\n")
    w(' "cases": [\n')
    for ci, case in enumerate(built):
        w("  {\n")
        keys = list(case)
        for ki, k in enumerate(keys):
            sep = "," if ki < len(keys) - 1 else ""
            w(f"   {json.dumps(k)}: {json.dumps(case[k], allow_nan=False)}{sep}\n")
        w("  }" + ("," if ci < len(built) - 1 else "") + "\n")
    w(" ]\n}\n")

    print(f"{len(built)} cases; scipy {scipy.__version__}, numpy {np.__version__}",
          file=sys.stderr)
    for note in notes:
        print("NOTE:", note, file=sys.stderr)


if __name__ == "__main__":
    main()
