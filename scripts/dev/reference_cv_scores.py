#!/usr/bin/env python3
"""Dev-only: scikit-learn's 5-fold cross-validation scores of the implemented families, with
default hyperparameters, on the sample datasets. The Rust test `image/ml/tests/quality.rs`
checks mmp-ml's scores against the JSON this writes. CI never runs this script.

Folds: cross_val_score(cv=5), i.e. StratifiedKFold(5) for classifiers and KFold(5) for
regressors, unshuffled (mmp-ml makes the very same folds). Scores: roc_auc (binary),
roc_auc_ovr (macro one-vs-rest, multiclass), r2 (regression). Randomized families are scored
with random_state 0..4; the test accepts mmp-ml's score within max(tolerance, max - min) of
their mean.

`variants` holds boosters other than the default, each under its family and the hyperparameters
(the container's names) that select it, scored with random_state 0..4 (`seeds`), which the test
gives mmp-ml as its seeds too:
- XGBoost `booster=gblinear`, with n_jobs=1: the shotgun updater updates features in parallel
  threads, so its result depends on the thread count; with one thread it is deterministic, and
  one thread per fold is what the library build fits with.
- LightGBM `boosting-type=dart` (LightGBM's default drop parameters): which rounds drop depends
  on the seed, so the seeds are the same on both sides.

NeuralNet is scored as `make_pipeline(StandardScaler(), MLP…())`: mmp-ml's MLP standardizes its
inputs with statistics learned at fit time, so the fair reference is scikit-learn's MLP on the
same standardized inputs. For a regression target the MLP standardizes the target too, so its
reference is that pipeline inside `TransformedTargetRegressor(transformer=StandardScaler())`.
The original's unscaled MLP is recorded too (`NeuralNet-unscaled`, for information; the test
skips names that are not families).

Usage: pip install scikit-learn==1.5.2 xgboost lightgbm pandas;
       python3 scripts/dev/reference_cv_scores.py   (or any interpreter that has them)
"""
import json
import os
import sys
import warnings

import pandas as pd
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
import lightgbm
import xgboost

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(os.path.dirname(__file__), "reference_cv_scores.json")
SEEDS = range(5)
DATASETS = [
    # (dataset, file, target, task, scorer)
    ("breast-cancer", "breast-cancer.csv", "CLASS", "binary", "roc_auc"),
    ("wine", "wine.csv", "CLASS", "multiclass", "roc_auc_ovr"),
    ("diabetes", "diabetes.csv", "progression", "regression", "r2"),
]


def families(task):
    """Default-hyperparameter estimators per family; a list of several means one per seed."""
    if task == "regression":
        return {
            # LogisticRegression's regression counterpart: L2 least squares, alpha = 1/C = 1.
            "LogisticRegression": [Ridge(alpha=1.0)],
            "RandomForest": [RandomForestRegressor(random_state=s) for s in SEEDS],
            "NeuralNet": [
                TransformedTargetRegressor(
                    regressor=make_pipeline(StandardScaler(), MLPRegressor(random_state=s)),
                    transformer=StandardScaler(),
                )
                for s in SEEDS
            ],
            "NeuralNet-unscaled": [MLPRegressor(random_state=s) for s in SEEDS],
            "XGBoost": [xgboost.XGBRegressor(random_state=s) for s in SEEDS],
            "LightGBM": [lightgbm.LGBMRegressor(random_state=s, verbose=-1) for s in SEEDS],
        }
    return {
        "LogisticRegression": [LogisticRegression()],
        "NaiveBayes": [GaussianNB()],
        "RandomForest": [RandomForestClassifier(random_state=s) for s in SEEDS],
        "NeuralNet": [make_pipeline(StandardScaler(), MLPClassifier(random_state=s)) for s in SEEDS],
        "NeuralNet-unscaled": [MLPClassifier(random_state=s) for s in SEEDS],
        "XGBoost": [xgboost.XGBClassifier(random_state=s) for s in SEEDS],
        "LightGBM": [lightgbm.LGBMClassifier(random_state=s, verbose=-1) for s in SEEDS],
    }


def variants(task):
    """Non-default boosters: name -> (family, container hyperparameters, one estimator per seed)."""
    xgb = xgboost.XGBRegressor if task == "regression" else xgboost.XGBClassifier
    lgbm = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    return {
        "XGBoost booster=gblinear": (
            "XGBoost", {"booster": "gblinear"},
            [xgb(booster="gblinear", n_jobs=1, random_state=s) for s in SEEDS],
        ),
        "LightGBM boosting-type=dart": (
            "LightGBM", {"boosting-type": "dart"},
            [lgbm(boosting_type="dart", random_state=s, verbose=-1) for s in SEEDS],
        ),
    }


def score(estimators, x, y, scorer):
    """Mean 5-fold CV score of each estimator, and their summary."""
    scores = []
    for est in estimators:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores.append(float(cross_val_score(est, x, y, cv=5, scoring=scorer).mean()))
    return {
        "estimator": repr(estimators[0]),
        "scores": scores,
        "mean": sum(scores) / len(scores),
        "spread": max(scores) - min(scores),
    }


def main():
    result = {
        "scikit_learn": sklearn.__version__,
        "xgboost": xgboost.__version__,
        "lightgbm": lightgbm.__version__,
        "folds": "cross_val_score(cv=5): StratifiedKFold(5) / KFold(5), unshuffled",
        "datasets": {},
    }
    for name, file, target, task, scorer in DATASETS:
        df = pd.read_csv(os.path.join(ROOT, "datasets", name, file))
        x, y = df.drop(columns=[target]), df[target]
        if task != "regression":
            # xgboost takes only 0..k-1; a sorted relabelling leaves folds and scores unchanged.
            y = LabelEncoder().fit_transform(y)
        entry = {"target": target, "task": task, "scorer": scorer, "families": {}, "variants": {}}
        for family, estimators in families(task).items():
            entry["families"][family] = score(estimators, x, y, scorer)
            print(f"{name:14} {family:28} {entry['families'][family]['mean']:.4f} "
                  f"(spread {entry['families'][family]['spread']:.4f})", file=sys.stderr)
        for variant, (family, hyperparameters, estimators) in variants(task).items():
            entry["variants"][variant] = {
                "family": family,
                "hyperparameters": hyperparameters,
                "seeds": list(SEEDS),
                **score(estimators, x, y, scorer),
            }
            print(f"{name:14} {variant:28} {entry['variants'][variant]['mean']:.4f} "
                  f"(spread {entry['variants'][variant]['spread']:.4f})", file=sys.stderr)
        result["datasets"][name] = entry
    with open(OUT, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
