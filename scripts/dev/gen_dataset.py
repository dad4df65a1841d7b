#!/usr/bin/env python3
"""Dev-only: writes a large synthetic CSV for the preprocess job (issue 17's dataset).

N rows x C columns (the target included): numeric features, and every fifth feature
categorical (a few colours); a share of feature cells left empty (missing); a binary target
(0/1) or a multiclass one (class_0 ... class_K-1) from a noisy rule over the first features,
so the data is learnable. A fixed seed writes the same file every time.

Usage (Python 3, standard library only):
    python3 scripts/dev/gen_dataset.py OUT.csv [--rows 1000000] [--columns 50] [--classes 2]
        [--missing 0.05] [--seed 17] [--target CLASS]
"""
import argparse
import random
import sys

CATEGORIES = ["red", "green", "blue", "amber", "violet", "teal"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="the CSV to write ('-' for standard output)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=50, help="columns, the target included")
    parser.add_argument("--classes", type=int, default=2, help="2: binary, more: multiclass")
    parser.add_argument("--missing", type=float, default=0.05, help="share of empty feature cells")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--target", default="CLASS")
    args = parser.parse_args()
    if args.rows < 1 or args.columns < 2 or args.classes < 2 or not 0 <= args.missing < 1:
        parser.error("need rows >= 1, columns >= 2, classes >= 2 and 0 <= missing < 1")

    features = args.columns - 1
    categorical = [j % 5 == 4 for j in range(features)]
    header = [("cat" if categorical[j] else "num") + str(j) for j in range(features)]
    # The target reads the first (up to) four numeric features.
    signal = [j for j in range(features) if not categorical[j]][:4]
    rng = random.Random(args.seed)
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    try:
        out.write(",".join(header + [args.target]) + "\n")
        lines = []
        for _ in range(args.rows):
            cells = []
            score = 0.0
            for j in range(features):
                if rng.random() < args.missing:
                    cells.append("")
                elif categorical[j]:
                    cells.append(CATEGORIES[rng.randrange(len(CATEGORIES))])
                else:
                    v = rng.gauss(0.0, 1.0)
                    if j in signal:
                        score += v
                    cells.append("%.4f" % v)
            score += rng.gauss(0.0, 0.5)
            if args.classes == 2:
                label = "1" if score > 0 else "0"
            else:
                # Equal-width bins of the score (sd ~2) over [-3, 3], the ends open.
                k = int((score + 3.0) / 6.0 * args.classes)
                label = "class_%d" % min(max(k, 0), args.classes - 1)
            cells.append(label)
            lines.append(",".join(cells))
            if len(lines) == 10_000:
                out.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            out.write("\n".join(lines) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    main()
