#!/usr/bin/env python3
"""Dev-only: writes the sample datasets under datasets/ from the copies scikit-learn ships in its wheel.

Usage: pip download --no-deps scikit-learn==1.5.2 -d /tmp/skl && unzip the wheel's
sklearn/datasets/data folder, then: extract_sample_datasets.py SKLEARN_DATA_DIR
"""
import csv
import gzip
import os
import sys

BREAST_CANCER_FEATURES = [
    f"{stat} {name}"
    for stat in ("mean", "error", "worst")
    for name in (
        "radius", "texture", "perimeter", "area", "smoothness", "compactness",
        "concavity", "concave points", "symmetry", "fractal dimension",
    )
]
WINE_FEATURES = [
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
    "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
    "od280/od315_of_diluted_wines", "proline",
]
DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def write(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def labelled(src, label_names=None):
    """scikit-learn's layout: a count line, then features with the class index last."""
    with open(src) as f:
        r = csv.reader(f)
        next(r)
        for row in r:
            label = int(row[-1])
            yield row[:-1] + [label_names[label] if label_names else label]


def main(data_dir, out_dir):
    write(os.path.join(out_dir, "breast-cancer", "breast-cancer.csv"),
          BREAST_CANCER_FEATURES + ["CLASS"],
          labelled(os.path.join(data_dir, "breast_cancer.csv")))
    write(os.path.join(out_dir, "wine", "wine.csv"),
          WINE_FEATURES + ["CLASS"],
          labelled(os.path.join(data_dir, "wine_data.csv"), ["class_0", "class_1", "class_2"]))
    with gzip.open(os.path.join(data_dir, "diabetes_data_raw.csv.gz"), "rt") as f:
        features = [line.split() for line in f if line.strip()]
    with gzip.open(os.path.join(data_dir, "diabetes_target.csv.gz"), "rt") as f:
        targets = [line.strip() for line in f if line.strip()]
    write(os.path.join(out_dir, "diabetes", "diabetes.csv"),
          DIABETES_FEATURES + ["progression"],
          ([*x, str(int(float(y)))] for x, y in zip(features, targets)))


if __name__ == "__main__":
    main(sys.argv[1], os.path.join(os.path.dirname(__file__), "..", "..", "datasets"))
