"""Fits XGBoost or LightGBM in Python on generated rows with missing values and writes the model
file, the rows (CSV, `nan` for missing) and the library's predictions (JSON) for them: what
`library_files.rs` checks this project's reader of those files against.

Usage: python3 library_files.py xgboost|lightgbm binary|multiclass|regression OUT_DIR
Writes OUT_DIR/model (the library's own format), OUT_DIR/rows.csv, OUT_DIR/predictions.json.
"""
import json
import os
import sys

import numpy as np


def data(task, rng):
    x = rng.normal(size=(400, 6)) * np.array([1, 10, 0.1, 1, 5, 1])
    x[:, 3] = rng.integers(0, 3, size=400)  # a column with many exact zeros
    score = x[:, 0] + 0.1 * x[:, 1] - 5 * x[:, 2] + (x[:, 3] == 0)
    x[rng.random(size=x.shape) < 0.1] = np.nan  # missing cells everywhere
    if task == "binary":
        y = (score + rng.normal(size=400) > 0.5).astype(int)
    elif task == "multiclass":
        y = np.digitize(score + rng.normal(size=400), [0.0, 1.0])
    else:
        y = 3 * score + rng.normal(size=400)
    return x, y


def main(library, task, out_dir):
    rng = np.random.default_rng(11)
    x, y = data(task, rng)
    model_file = os.path.join(out_dir, "model")
    if library == "xgboost":
        import xgboost

        objective = {"binary": "binary:logistic", "multiclass": "multi:softprob",
                     "regression": "reg:squarederror"}[task]
        params = {"objective": objective, "max_depth": 4, "seed": 1}
        if task == "multiclass":
            params["num_class"] = 3
        booster = xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=30)
        booster.save_model(model_file + ".json")
        os.rename(model_file + ".json", model_file)
        predictions = booster.predict(xgboost.DMatrix(x))
    elif library == "lightgbm":
        import lightgbm

        objective = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[task]
        params = {"objective": objective, "num_leaves": 8, "verbosity": -1, "seed": 1,
                  "min_data_in_leaf": 5}
        if task == "multiclass":
            params["num_class"] = 3
        if task == "regression":
            params["zero_as_missing"] = True  # the third missing-value mode
        booster = lightgbm.train(params, lightgbm.Dataset(x, label=y), num_boost_round=30)
        booster.save_model(model_file)
        predictions = booster.predict(x)
    else:
        sys.exit(f"unknown library {library!r}")
    np.savetxt(os.path.join(out_dir, "rows.csv"), x, delimiter=",", fmt="%.17g")
    with open(os.path.join(out_dir, "predictions.json"), "w") as f:
        json.dump(np.asarray(predictions, dtype=np.float64).tolist(), f)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
