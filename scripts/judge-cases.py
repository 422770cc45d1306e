#!/usr/bin/env python3
"""Writes the judge's golden cases, crates/core/tests/judge_cases/*.json, in the
format `houston judge FILE.json` reads. Deterministic (seeded); run it only to add or
change a case, then bless the expected verdicts:

    python3 scripts/judge-cases.py
    HOUSTON_BLESS=1 cargo test -p houston-core --test judge_cases

and read the diff of the *.expected.json files before committing it.
"""
import json
import math
import os
import random
from datetime import datetime, timedelta, timezone

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "core", "tests", "judge_cases")
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
STEP = 30  # seconds between samples
BEFORE = int(4.5 * 3600 / STEP)  # the history and the baseline window
AFTER = int(15 * 60 / STEP)  # the default bake


def stamp(t):
    return t.isoformat().replace("+00:00", "Z")


def ar1(rng, n, rho, sigma):
    x, out = 0.0, []
    for _ in range(n):
        x = rho * x + math.sqrt(1 - rho * rho) * rng.gauss(0.0, sigma)
        out.append(x)
    return out


def poisson(rng, mean):
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def positive(seed, level, sigma, rho=0.6, after=1.0, start=T0, before=BEFORE, n_after=AFTER):
    """A positive metric on a log scale: AR(1) noise, times `after` from the deploy on."""
    rng = random.Random(seed)
    noise = ar1(rng, before + n_after, rho, sigma)
    samples = []
    for i, e in zip(range(-before, n_after), noise):
        factor = after if i >= 0 else 1.0
        samples.append([stamp(start + timedelta(seconds=STEP * i)), round(level * math.exp(e) * factor, 4)])
    return samples


def counts(seed, mean, after_mean):
    rng = random.Random(seed)
    return [
        [stamp(T0 + timedelta(seconds=STEP * i)), poisson(rng, after_mean if i >= 0 else mean)]
        for i in range(-BEFORE, AFTER)
    ]


def check(**fields):
    return {"metric": fields.pop("metric", "latency_p95"), **fields}


CASES = {
    "calm_latency_is_healthy": {
        "check": check(direction="increase_is_bad", tolerance=0.10),
        "samples": positive(1, 200.0, 0.05),
    },
    "latency_up_40_percent_regresses": {
        "check": check(direction="increase_is_bad", tolerance=0.10, critical=True),
        "samples": positive(2, 200.0, 0.05, after=1.4),
    },
    "a_step_the_noise_hides_cannot_tell": {
        "check": check(direction="increase_is_bad", tolerance=0.05),
        "samples": positive(3, 200.0, 0.30, rho=0.95, after=1.3),
    },
    "throughput_falling_when_decrease_is_bad_regresses": {
        "check": check(metric="requests", direction="decrease_is_bad", tolerance=0.10),
        "samples": positive(4, 1200.0, 0.04, after=0.7),
    },
    "throughput_rising_when_decrease_is_bad_is_healthy": {
        "check": check(metric="requests", direction="decrease_is_bad", tolerance=0.10),
        "samples": positive(5, 1200.0, 0.04, after=1.3),
    },
    "error_counts_jumping_regress": {
        "check": check(metric="errors", direction="increase_is_bad", tolerance=0.10, tolerance_floor=0.05),
        "samples": counts(6, 0.3, 2.0),
    },
    "calm_error_counts_are_healthy": {
        "check": check(metric="errors", direction="increase_is_bad", tolerance=0.50, tolerance_floor=0.05),
        "samples": counts(7, 3.0, 3.0),
    },
    "a_bound_fails_a_check_the_comparison_passed": {
        "check": check(direction="increase_is_bad", tolerance=0.10, max_value=1000.0),
        "samples": positive(8, 995.0, 0.05),
    },
    "too_few_samples_after_the_deploy_is_no_data": {
        "check": check(direction="increase_is_bad"),
        "samples": positive(9, 200.0, 0.05, n_after=8),
    },
    "a_reading_while_baking_is_provisional": {
        "check": check(direction="increase_is_bad", tolerance=0.10),
        "samples": positive(10, 200.0, 0.05, after=1.5),
        "now": stamp(T0 + timedelta(minutes=9)),
    },
    "the_next_deploy_ends_the_bake_early": {
        "check": check(direction="increase_is_bad", tolerance=0.10),
        "samples": positive(11, 200.0, 0.05),
        "next_deploy_at": stamp(T0 + timedelta(minutes=9)),
    },
    "last_week_as_the_baseline": {
        "check": check(direction="increase_is_bad", tolerance=0.10, baseline="last_week"),
        "samples": positive(12, 200.0, 0.05, after=1.3),
        "baseline_samples": positive(13, 200.0, 0.05, start=T0 - timedelta(weeks=1)),
    },
    "a_canary_against_its_control_group": {
        "check": check(direction="increase_is_bad", tolerance=0.10, baseline="control"),
        "samples": positive(14, 200.0, 0.05, after=1.35),
        "baseline_samples": positive(15, 200.0, 0.05),
    },
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, case in CASES.items():
        body = {"deployed_at": stamp(T0), **case}
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(body, f, separators=(",", ":"))
            f.write("\n")
    print(f"{len(CASES)} cases in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
