"""Loads a model file this project wrote with the Python library of the same name and prints its
predictions for the rows of a CSV file (encoded features, no header) as JSON.

Usage: python3 interop.py xgboost|lightgbm MODEL_FILE ROWS_CSV
Binary models print P(class 1) per row, multiclass models a row of probabilities, regression
models a value; exactly what `Booster.predict` returns.
"""
import json
import sys

import numpy as np


def main(library, model_file, rows_csv):
    rows = np.loadtxt(rows_csv, delimiter=",", dtype=np.float64, ndmin=2)
    if library == "xgboost":
        import xgboost

        booster = xgboost.Booster(model_file=model_file)
        predictions = booster.predict(xgboost.DMatrix(rows))
    elif library == "lightgbm":
        import lightgbm

        booster = lightgbm.Booster(model_file=model_file)
        predictions = booster.predict(rows)
    else:
        sys.exit(f"unknown library {library!r}")
    json.dump(np.asarray(predictions, dtype=np.float64).tolist(), sys.stdout)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
