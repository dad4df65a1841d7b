"""Writes tiny XGBoost JSON and LightGBM text model files, as the Python libraries save them,
as `model_readers` seeds: selector byte 0 (XGBoost) or 1 (LightGBM), then the file.

Usage: python3 library_files.py CORPUS_DIR  (needs xgboost and lightgbm, .ci/pip/native.txt)
"""
import os
import sys
import tempfile

import numpy as np


def data(task, rng):
    x = rng.normal(size=(60, 3))
    x[:, 2] = rng.integers(0, 3, size=60)  # exact zeros, for LightGBM's zero-as-missing
    score = x[:, 0] - x[:, 1] + (x[:, 2] == 0)
    x[rng.random(size=x.shape) < 0.1] = np.nan
    if task == "binary":
        return x, (score > 0.5).astype(int)
    if task == "multiclass":
        return x, np.digitize(score, [0.0, 1.0])
    return x, 3 * score


def xgboost_files(rng):
    import xgboost

    cases = [
        ("binary", {"objective": "binary:logistic"}),
        ("multiclass", {"objective": "multi:softprob", "num_class": 3}),
        ("regression", {"objective": "reg:squarederror"}),
        ("dart", {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.5}),
        ("gblinear", {"objective": "reg:squarederror", "booster": "gblinear"}),
    ]
    for name, params in cases:
        task = {"dart": "binary", "gblinear": "regression"}.get(name, name)
        x, y = data(task, rng)
        params = {**params, "seed": 1}
        if name != "gblinear":
            params["max_depth"] = 2
        booster = xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=2)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.json")
            booster.save_model(path)
            with open(path, "rb") as f:
                yield f"file-xgboost-{name}", b"\x00" + f.read()


def lightgbm_files(rng):
    import lightgbm

    cases = [
        ("binary", {"objective": "binary"}),
        ("multiclass", {"objective": "multiclass", "num_class": 3}),
        ("regression", {"objective": "regression", "zero_as_missing": True}),
        ("ova", {"objective": "multiclassova", "num_class": 3}),
        ("rf", {"objective": "binary", "boosting": "rf", "bagging_fraction": 0.8,
                "bagging_freq": 1}),
    ]
    for name, params in cases:
        task = {"ova": "multiclass", "rf": "binary"}.get(name, name)
        x, y = data(task, rng)
        params = {**params, "num_leaves": 3, "min_data_in_leaf": 5, "verbosity": -1, "seed": 1}
        booster = lightgbm.train(params, lightgbm.Dataset(x, label=y), num_boost_round=2)
        yield f"file-lightgbm-{name}", b"\x01" + booster.model_to_string().encode()


def main(corpus):
    out = os.path.join(corpus, "model_readers")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(5)
    for name, seed in [*xgboost_files(rng), *lightgbm_files(rng)]:
        with open(os.path.join(out, name), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
