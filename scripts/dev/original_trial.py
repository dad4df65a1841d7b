#!/usr/bin/env python3
"""Dev-only: a tuning trial the way the original's training scripts run one (pandas +
scikit-learn, 5-fold cross_val_score, the `Cross-Validation Score:` line), reading the same
SageMaker paths as `mmp-container train`. Used only to time the two side by side
(scripts/dev/bench_trials.py); CI never runs it.

The original's NeuralNet, XGBoost and LightGBM scripts build `MLPClassifier` (on the raw,
unscaled columns), `XGBClassifier` and `LGBMClassifier` from the same hyperparameter names;
a regression target uses each library's regressor.

Usage: MMP_ML_ROOT=/tmp/root python3 scripts/dev/original_trial.py
"""
import json
import os

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB

root = os.environ.get("MMP_ML_ROOT", "/opt/ml")
with open(os.path.join(root, "input/config/hyperparameters.json")) as f:
    hp = {k: json.loads(v) if v.startswith('"') else v for k, v in json.load(f).items()}


def none_or(v, cast):
    return None if v in (None, "None") else cast(v)


algorithm = hp["algorithm"]
regression = hp.get("cv-scorer", "roc_auc") in ("r2", "neg_mean_squared_error", "neg_mean_absolute_error")
if algorithm == "NeuralNet":
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    sizes = tuple(int(s) for s in str(hp.get("hidden-layer-sizes", "100")).split(","))
    model = (MLPRegressor if regression else MLPClassifier)(
        hidden_layer_sizes=sizes,
        activation=hp.get("activation", "relu"),
        learning_rate_init=float(hp.get("learning-rate-init", 0.001)),
        alpha=float(hp.get("alpha", 0.0001)),
        max_iter=int(hp.get("max-iter", 200)),
        random_state=int(hp.get("random-state", 42)),
    )
elif algorithm == "XGBoost":
    import xgboost

    model = (xgboost.XGBRegressor if regression else xgboost.XGBClassifier)(
        booster=hp.get("booster", "gbtree"),
        n_estimators=int(hp.get("n-estimators", 100)),
        learning_rate=float(hp.get("learning-rate", 0.3)),
        max_depth=int(hp.get("max-depth", 6)),
        random_state=int(hp.get("random-state", 42)),
    )
elif algorithm == "LightGBM":
    import lightgbm

    model = (lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier)(
        boosting_type=hp.get("boosting-type", "gbdt"),
        n_estimators=int(hp.get("n-estimators", 100)),
        learning_rate=float(hp.get("learning-rate", 0.1)),
        num_leaves=int(hp.get("num-leaves", 31)),
        random_state=int(hp.get("random-state", 42)),
        verbose=-1,
    )
elif algorithm == "RandomForest":
    model = RandomForestClassifier(
        n_estimators=int(hp.get("n-estimators", 100)),
        criterion=hp.get("criterion", "gini"),
        max_depth=none_or(hp.get("max-depth"), int),
        min_samples_split=int(hp.get("min-samples-split", 2)),
        min_samples_leaf=int(hp.get("min-samples-leaf", 1)),
        max_features=none_or(hp.get("max-features", "sqrt"), str),
        class_weight=none_or(hp.get("class-weight"), str),
        random_state=int(hp.get("random-state", 42)),
    )
elif algorithm == "LogisticRegression":
    model = LogisticRegression(
        penalty=none_or(hp.get("penalty", "l2"), str),
        C=float(hp.get("C", 1.0)),
        class_weight=none_or(hp.get("class-weight"), str),
        max_iter=int(hp.get("max-iter", 100)),
    )
else:
    model = GaussianNB(var_smoothing=float(hp.get("var_smoothing", 1e-9)))

df = pd.read_csv(os.path.join(root, "input/data/train", hp.get("train-file", "dataset.csv")))
target = hp.get("target", "CLASS")
X, y = df.drop(columns=[target]), df[target]
scores = cross_val_score(model, X, y, cv=int(hp.get("cv-folds", 5)), scoring=hp.get("cv-scorer", "roc_auc"))
print(f"Cross-Validation Score: {scores.mean()}")
