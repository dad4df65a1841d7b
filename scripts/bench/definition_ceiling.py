#!/usr/bin/env python3
"""How well can any choice of definitions do in n trials? An upper bound for the Bayesian
strategy's definition choice, from a long Random run.

Each seed's trials of a long Random run (`tuning_strategies.py --strategies Random --trials 200`)
are taken as that seed's pool of scores per definition. A fixed allocation (so many trials of
each definition) drawn at random, without replacement, from those pools has an expected best
score that can be computed exactly: per definition, P(best of k draws <= x) = C(m(x), k) / C(n, k),
with m(x) the pool's scores at or below x, and the definitions are independent. The script prints
that expectation, averaged over seeds, for Random's own allocations (n trials in turns and 60
trials) and for the best fixed allocations of n trials, found with hindsight. A failed trial
scores as the seed's lowest.

It also plays an informed rule: one trial of each definition, then each trial goes to the
definition whose remaining trials, drawn from its known pool, would raise the expected best the
most. A rule that has to learn the pools from its own few trials does worse, unless it also
picks better configurations within a definition than random draws do (as the TPE does). So the
informed rule's margin over Random at 60 is roughly what a definition choice has to work with.

usage: definition_ceiling.py RESULTS_JSON [--trials 20] [--top 5] [--reps 10]
           [--allocation NAME=k1,k2,...]
"""
import argparse
import itertools
import json
import random
from math import comb

import numpy as np

FAILED = float("-inf")


def pools(path):
    """{seed: {definition: [scores]}} and the definitions in the order Random takes turns."""
    out, order = {}, []
    for run in json.load(open(path)):
        pool = out.setdefault(run["seed"], {})
        for t in run["trials"]:
            done = t["status"] == "Completed" and t["objective"] is not None
            pool.setdefault(t["definition"], []).append(t["objective"] if done else FAILED)
            if t["definition"] not in order:
                order.append(t["definition"])
    return out, order


def p_best_at_most(m, n, k):
    """P(the best of k draws without replacement from n scores is among the m lowest)."""
    return comb(m, k) / comb(n, k)


def grid(pool, order, kmax):
    """The seed's distinct scores and, per definition and k, P(best of k draws <= each score):
    C(m, k) / C(n, k) with m the pool's scores at or below it."""
    values = np.array(sorted({v for scores in pool.values() for v in scores}))
    cdf = np.ones((len(order), kmax + 1, len(values)))
    for i, d in enumerate(order):
        scores = np.sort(np.array(pool[d]))
        below = np.searchsorted(scores, values, side="right")
        for k in range(1, min(kmax, len(scores)) + 1):
            cdf[i, k] = [p_best_at_most(int(m), len(scores), k) for m in below]
    finite = values[np.isfinite(values)]
    # A failed best counts as the lowest score any trial reached.
    values = np.where(np.isfinite(values), values, finite.min() if finite.size else 0.0)
    return values, cdf


def mean_best(data, order, allocations):
    """Exact E[best], averaged over seeds, of each allocation (rows: trials per definition)."""
    allocations = np.asarray(allocations)
    total = np.zeros(len(allocations))
    for pool in data.values():
        values, cdf = grid(pool, order, int(allocations.max()))
        p = np.ones((len(allocations), len(values)))
        for i in range(len(order)):
            p *= cdf[i, allocations[:, i]]
        # P(best == each value) from the CDF of the best.
        total += (np.diff(p, axis=1, prepend=0.0) * values).sum(axis=1)
    return total / len(data)


def gain(remaining, best, k):
    """Expected rise of `best` from k more draws without replacement of `remaining`."""
    scores = sorted(remaining)
    k = min(k, len(scores))
    expectation, previous = 0.0, 0.0
    for j, x in enumerate(scores):
        p = p_best_at_most(j + 1, len(scores), k)
        expectation += max(x, best) * (p - previous)
        previous = p
    return expectation - best


def informed(data, order, trials, reps):
    """Mean best and mean trials per definition of the informed rule, `reps` runs per seed."""
    total, spent, runs = 0.0, [0] * len(order), 0
    for seed, pool in sorted(data.items()):
        floor = min(v for scores in pool.values() for v in scores if v != FAILED)
        scores = {d: [floor if v == FAILED else v for v in pool[d]] for d in order}
        for rep in range(reps):
            rng = random.Random(seed * 1000 + rep)
            remaining = {d: rng.sample(scores[d], len(scores[d])) for d in order}
            best = None
            for i in range(trials):
                if i < len(order):
                    d = order[i]
                else:
                    d = max(order, key=lambda d: (gain(remaining[d], best, trials - i), rng.random()))
                value = remaining[d].pop()
                best = value if best is None else max(best, value)
                spent[order.index(d)] += 1
            total += best
            runs += 1
    return total / runs, [k / runs for k in spent]


def in_turns(order, n):
    return [n // len(order) + (i < n % len(order)) for i in range(len(order))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--reps", type=int, default=10, help="runs of the informed rule per seed")
    parser.add_argument("--allocation", action="append", default=[],
                        help="NAME=k1,k2,... trials per definition, in the printed order")
    args = parser.parse_args()
    data, order = pools(args.results)
    smallest = min(len(s) for pool in data.values() for s in pool.values())
    print(f"{len(data)} seeds; definitions in turn order: {', '.join(order)}; "
          f"at least {smallest} trials of each per seed")
    rows = [(f"Random, {n} trials in turns", in_turns(order, n)) for n in (args.trials, 60)]
    for spec in args.allocation:
        rows.append(parse_allocation(spec, order))
    for name, counts in rows:
        if max(counts) > smallest:
            raise SystemExit(f"{name}: more trials of a definition than its pool holds")
    for (name, counts), score in zip(rows, mean_best(data, order, [c for _, c in rows])):
        print(f"{name}: {score:.5f}  ({counts_text(order, counts)})")
    # Every allocation with at least one trial of each definition (the random startup).
    spare = args.trials - len(order)
    found = [[1 + k for k in (*extra, spare - sum(extra))]
             for extra in itertools.product(range(spare + 1), repeat=len(order) - 1)
             if sum(extra) <= spare]
    found = [c for c in found if max(c) <= smallest]
    scores = mean_best(data, order, found)
    print(f"best fixed allocations of {args.trials} trials, with hindsight:")
    for i in np.argsort(-scores)[: args.top]:
        print(f"  {scores[i]:.5f}  ({counts_text(order, found[i])})")
    score, spent = informed(data, order, args.trials, args.reps)
    print(f"informed rule, {args.trials} trials: {score:.5f}  "
          f"({', '.join(f'{d} {k:.1f}' for d, k in zip(order, spent))})")


def parse_allocation(spec, order):
    """`NAME=k1,k2,...`: one count of trials per definition, in `order`."""
    name, sep, ks = spec.partition("=")
    try:
        counts = [int(k) for k in ks.split(",")] if sep else []
    except ValueError:
        counts = []
    if not name or len(counts) != len(order) or min(counts) < 0:
        raise SystemExit(f"--allocation {spec!r}: expected NAME=k1,...,k{len(order)}, "
                         f"one count of trials per definition ({', '.join(order)})")
    return name, counts


def counts_text(order, counts):
    return ", ".join(f"{d} {k}" for d, k in zip(order, counts))


if __name__ == "__main__":
    main()
