"""How separable are LCID-sim's two classes by simple image statistics?

A logistic regression on a handful of statistics of each preprocessed sample
(:func:`hrcn_lib.preprocess.load_sample`), cross-validated with folds grouped by
body (no body in both train and test, as in the paper's split). If this reached
~100 %, the simulated task would be trivial and every model comparison in the
book meaningless.

Usage::

    .venv/bin/hrcn simulate --profile cpu --out /tmp/lcid_cpu --jobs 2
    .venv/bin/python benchmarks/baseline_separability.py /tmp/lcid_cpu

Writes ``benchmarks/results/separability.json`` and prints the accuracies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy import stats

FEATURES = ("mean", "std", "skew", "kurtosis", "p50", "p90", "p99", "frac_gt1", "frac_gt3",
            "grad_mean", "peak_density", "smooth_frac")


def sample_features(sample: np.ndarray) -> np.ndarray:
    """Twelve statistics of one (2048, 4096) sample, computed on a 512x1024 area-average.

    Moments and percentiles of the pixel values, bright-pixel fractions, mean
    gradient magnitude, density of local maxima above 2 (point sources) and the
    fraction of the variance in structure larger than 8 pixels (smoothness).
    """
    small = cv2.resize(sample, (1024, 512), interpolation=cv2.INTER_AREA).astype(np.float64)
    flat = small.ravel()
    gy, gx = np.gradient(small)
    dil = cv2.dilate(small.astype(np.float32), np.ones((5, 5), np.uint8))
    peaks = ((small >= dil) & (small > 2.0)).mean()
    smooth = cv2.GaussianBlur(small, (0, 0), 4.0)
    var = flat.var() + 1e-12
    return np.array([flat.mean(), flat.std(), stats.skew(flat), stats.kurtosis(flat),
                     *np.percentile(flat, [50, 90, 99]), (flat > 1).mean(), (flat > 3).mean(),
                     np.hypot(gx, gy).mean(), peaks, smooth.var() / var])


def load_features(root: Path) -> pd.DataFrame:
    """Features of every row of ``root/lcid_manifest.csv`` (plus label, body, blurry)."""
    from tqdm import tqdm

    from hrcn_lib.manifest import read_manifest
    from hrcn_lib.preprocess import load_sample

    df = read_manifest(root / "lcid_manifest.csv")
    feats = [sample_features(load_sample(p, h))
             for p, h in tqdm(list(zip(df["path"], df["hdu"], strict=True)), desc="features")]
    out = pd.DataFrame(feats, columns=FEATURES, index=df.index)
    return out.join(df[["body", "label", "blurry", "morphology"]])


def evaluate(table: pd.DataFrame, folds: int = 5, seed: int = 0) -> dict:
    """Body-grouped cross-validated accuracy of logistic regression (and a random forest)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = table[list(FEATURES)].to_numpy()
    y = (table["label"] == "NSC").to_numpy().astype(int)
    groups = table["body"].to_numpy()
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    forest = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    lr = cross_val_score(logreg, x, y, groups=groups, cv=cv)
    rf = cross_val_score(forest, x, y, groups=groups, cv=cv)
    return {"samples": int(len(y)), "bodies": int(len(set(groups))),
            "nsc_fraction": float(y.mean()), "folds": folds,
            "logreg_accuracy": float(lr.mean()), "logreg_accuracy_std": float(lr.std()),
            "forest_accuracy": float(rf.mean()), "forest_accuracy_std": float(rf.std()),
            "majority_accuracy": float(max(y.mean(), 1 - y.mean())), "features": list(FEATURES)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with lcid_manifest.csv")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "separability.json")
    args = parser.parse_args(argv)
    table = load_features(args.data)
    result = evaluate(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out.with_suffix(".features.csv"))
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
