# Sourced by scripts that build or run the feature `native-boosting` (the real XGBoost and
# LightGBM): points the xgb crate at the libxgboost.so of the installed xgboost(-cpu) wheel
# (.ci/pip/native.txt) at build time and the loader at run time. Keeps XGBOOST_LIB_DIR if set.
if [ -z "${XGBOOST_LIB_DIR:-}" ]; then
  # find_spec locates the package without importing it (and numpy with it).
  XGBOOST_LIB_DIR=$(python3 -c 'import importlib.util, os
spec = importlib.util.find_spec("xgboost")
print(os.path.join(os.path.dirname(spec.origin), "lib") if spec else "")') || XGBOOST_LIB_DIR=""
  if [ -z "$XGBOOST_LIB_DIR" ] || [ ! -d "$XGBOOST_LIB_DIR" ]; then
    echo "native-boosting: no xgboost wheel found for python3; pip install -r .ci/pip/native.txt" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
export XGBOOST_LIB_DIR
export LD_LIBRARY_PATH="$XGBOOST_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
