"""The metrics of Table 4 and their uncertainty: accuracy, F1 per class, confusion matrix,
the majority-class baseline, and bootstrap intervals over celestial bodies.

numpy, pandas and scikit-learn only (no torch): :mod:`hrcn_lib.evaluate` computes them for
a model's predictions, :mod:`hrcn_lib.records` re-derives them from a record's predictions.

Samples of one body are not independent (one object, often one pointing), so every
interval here resamples whole bodies (a cluster bootstrap, percentile interval): resampling
samples would make the intervals too narrow. :func:`bootstrap_difference` resamples the
bodies shared by two runs evaluated on the same samples (a paired comparison).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from hrcn_lib.names import CLASS_NAMES, LABELS

__all__ = ["compute_metrics", "score", "bootstrap_accuracy", "bootstrap_difference",
           "bootstrap_draws", "bootstrap_excess", "majority_fraction", "binomial_se",
           "alike_mask", "answers_alike", "correctness", "paired_difference"]


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Table 4 metrics and the confusion matrix (scikit-learn).

    Args:
        y_true, y_pred: integer class arrays (0 galaxy, 1 NSC), same length >= 1.

    Returns:
        (``{"accuracy", "f1_galaxy", "f1_nsc"}`` as fractions in [0, 1], confusion
        matrix int64 (2, 2): rows true, columns predicted, order galaxy, NSC). A class
        neither in ``y_true`` nor in ``y_pred`` has no F1 score: NaN, not 0 (a set of
        galaxies alone, answered "galaxy", did not score 0 on NSCs).

    Raises:
        ValueError: arrays of different shapes, not 1-D, or empty.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 1-D "
                         "non-empty arrays")
    labels = list(range(len(CLASS_NAMES)))
    f1 = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=np.nan)
    metrics = {"accuracy": float(accuracy_score(y_true, y_pred)),
               "f1_galaxy": float(f1[LABELS["galaxy"]]), "f1_nsc": float(f1[LABELS["NSC"]])}
    return metrics, confusion_matrix(y_true, y_pred, labels=labels).astype(np.int64)


def bootstrap_draws(groups: np.ndarray | pd.Series | Sequence[str], n_boot: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The groups of each sample and ``n_boot`` bootstrap draws of the groups.

    Returns:
        ``(index, draws)``: int array (n_samples,) of group numbers 0..k-1 (sorted group
        names), and int array (n_boot, k): how often each group is drawn in each replicate
        (a multinomial of k draws with equal probabilities, ``numpy.random.default_rng(seed)``).

    Raises:
        ValueError: no samples, or ``n_boot < 100``.
    """
    grp = np.asarray(groups).astype(str)
    if grp.ndim != 1 or grp.size == 0:
        raise ValueError(f"bootstrap: need a non-empty 1-D array of groups, got shape {grp.shape}")
    if n_boot < 100:
        raise ValueError(f"bootstrap: n_boot must be >= 100, got {n_boot}")
    _, index = np.unique(grp, return_inverse=True)
    k = int(index.max()) + 1
    draws = np.random.default_rng(seed).multinomial(k, np.full(k, 1.0 / k), size=n_boot)
    return index, draws


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"bootstrap: level must be in (0, 1), got {level}")
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.nanpercentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_accuracy(correct: np.ndarray | pd.Series, groups: np.ndarray | pd.Series, *,
                       n_boot: int = 2000, level: float = 0.95, seed: int = 0
                       ) -> tuple[float, float]:
    """Percentile interval of the accuracy, resampling whole groups (celestial bodies).

    Each replicate draws the evaluated set's bodies with replacement and recomputes the
    pooled accuracy ``sum(correct) / sum(n)`` over the drawn bodies.

    Args:
        correct: bool / 0-1 array, one entry per sample.
        groups: the sample's group (body name), same length.
        n_boot: bootstrap draws (>= 100).
        level: central coverage, in (0, 1).
        seed: seed of the draws (same inputs, same interval).

    Returns:
        ``(low, high)``, fractions in [0, 1].

    Raises:
        ValueError: empty or mismatched inputs, ``n_boot < 100`` or ``level`` outside (0, 1).
    """
    ok = np.asarray(correct, dtype=float)
    if ok.ndim != 1 or ok.shape != np.shape(np.asarray(groups)):
        raise ValueError(f"bootstrap_accuracy: correct {ok.shape} and groups "
                         f"{np.shape(np.asarray(groups))} must be equal 1-D arrays")
    index, draws = bootstrap_draws(groups, n_boot, seed)
    hits, sizes = np.bincount(index, weights=ok), np.bincount(index).astype(float)
    return _interval((draws @ hits) / (draws @ sizes), level)


def bootstrap_difference(correct_a: np.ndarray | pd.Series, correct_b: np.ndarray | pd.Series,
                         groups: np.ndarray | pd.Series, *, n_boot: int = 2000,
                         level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Accuracy of run A minus run B on the same samples, with a paired body bootstrap.

    Args:
        correct_a, correct_b: per-sample correctness of the two runs, aligned (same
            samples in the same order).
        groups: the samples' bodies.

    Returns:
        ``(difference, low, high)`` as fractions (positive: A is more accurate).

    Raises:
        ValueError: mismatched or empty inputs.
    """
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.shape != np.shape(np.asarray(groups)):
        raise ValueError(f"bootstrap_difference: shapes {a.shape}, {b.shape} and "
                         f"{np.shape(np.asarray(groups))} must be equal 1-D")
    index, draws = bootstrap_draws(groups, n_boot, seed)
    sizes = draws @ np.bincount(index).astype(float)
    diff = (draws @ np.bincount(index, weights=a) - draws @ np.bincount(index, weights=b)) / sizes
    low, high = _interval(diff, level)
    return float(a.mean() - b.mean()), low, high


def correctness(rows: pd.DataFrame) -> pd.DataFrame:
    """``obsid`` (str), ``hdu`` (int), ``body`` (str), ``ok`` (bool: ``label == pred``) of
    prediction rows (a record's ``predictions.csv`` columns), in their order."""
    return pd.DataFrame({"obsid": rows["obsid"].astype(str), "hdu": rows["hdu"].astype(int),
                         "body": rows["body"].astype(str),
                         "ok": (rows["label"] == rows["pred"]).to_numpy()})


def paired_difference(ca: pd.DataFrame, cb: pd.DataFrame) -> tuple[float, float, float] | None:
    """Accuracy of run A minus run B on the samples both hold (:func:`correctness` frames,
    matched on ``obsid, hdu, body``), with :func:`bootstrap_difference`'s paired interval:
    ``(difference, low, high)`` as fractions; None when they share no sample."""
    both = ca.merge(cb, on=["obsid", "hdu", "body"], suffixes=("_a", "_b"))
    if both.empty:
        return None
    return bootstrap_difference(both["ok_a"].to_numpy(), both["ok_b"].to_numpy(), both["body"])


def _stratified_excess(err: np.ndarray, exposed: np.ndarray, strata: np.ndarray,
                       index: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row of ``weights`` (group multiplicities, shape (m, k)): the exposed-minus-unexposed
    rate of ``err``, within each stratum, averaged with the exposed counts as weights (NaN
    where no stratum has both)."""
    num = np.zeros(weights.shape[0])
    den = np.zeros(weights.shape[0])
    for s in np.unique(strata):
        rates, counts = [], []
        for flag in (True, False):
            sel = (strata == s) & (exposed == flag)
            n = weights @ np.bincount(index, weights=sel.astype(float), minlength=weights.shape[1])
            e = weights @ np.bincount(index, weights=(err * sel), minlength=weights.shape[1])
            with np.errstate(invalid="ignore", divide="ignore"):
                rates.append(e / n)
            counts.append(n)
        ok = (counts[0] > 0) & (counts[1] > 0)
        num += np.where(ok, (rates[0] - rates[1]) * counts[0], 0.0)
        den += np.where(ok, counts[0], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def bootstrap_excess(errors: np.ndarray | pd.Series, exposed: np.ndarray | pd.Series,
                     strata: np.ndarray | pd.Series, groups: np.ndarray | pd.Series, *,
                     n_boot: int = 2000, level: float = 0.95, seed: int = 0
                     ) -> tuple[float, float, float, int]:
    """How much more often samples with a property are misclassified than those without,
    within strata (the true class), with a bootstrap over bodies.

    Within each stratum the error rate of the exposed samples minus that of the unexposed is
    taken, and the strata are averaged with the exposed counts as weights (strata lacking
    either kind are left out). Stratifying by the true class keeps a model that answers one
    class from making every property of the other class look like a cause of error.

    Args:
        errors: bool / 0-1 per sample (1: misclassified).
        exposed: bool per sample (the sample has the property).
        strata: the stratum of each sample (e.g. its true label).
        groups: each sample's body (the bootstrap resamples bodies).

    Returns:
        ``(excess, low, high, n_exposed)``: fractions (positive: the property goes with more
        errors); NaN when no stratum has both exposed and unexposed samples; ``n_exposed`` the
        exposed samples in the strata used.

    Raises:
        ValueError: mismatched or empty inputs.
    """
    err = np.asarray(errors, dtype=float)
    exp = np.asarray(exposed, dtype=bool)
    st = np.asarray(strata).astype(str)
    if not (err.ndim == 1 and err.shape == exp.shape == st.shape == np.shape(np.asarray(groups))):
        raise ValueError(f"bootstrap_excess: errors {err.shape}, exposed {exp.shape}, strata "
                         f"{st.shape} and groups {np.shape(np.asarray(groups))} must be equal "
                         "1-D arrays")
    index, draws = bootstrap_draws(groups, n_boot, seed)
    ones = np.ones((1, draws.shape[1]))
    point = float(_stratified_excess(err, exp, st, index, ones)[0])
    used = {s for s in np.unique(st) if exp[st == s].any() and (~exp[st == s]).any()}
    n_exposed = int(sum(exp[st == s].sum() for s in used))
    if not np.isfinite(point):
        return float("nan"), float("nan"), float("nan"), n_exposed
    low, high = _interval(_stratified_excess(err, exp, st, index, draws), level)
    return point, low, high, n_exposed


def majority_fraction(labels: np.ndarray | pd.Series) -> float:
    """Accuracy of always answering the most frequent class of ``labels`` (the baseline a
    classifier must beat).

    Raises:
        ValueError: no labels.
    """
    values = pd.Series(np.asarray(labels))
    if values.empty:
        raise ValueError("majority_fraction: no labels")
    return float(values.value_counts().iloc[0] / len(values))


def score(labels: Sequence[str] | pd.Series, predictions: Sequence[str] | pd.Series
          ) -> dict[str, float]:
    """:func:`compute_metrics` of class names (``"galaxy"``/``"NSC"``): accuracy, f1_galaxy,
    f1_nsc as fractions.

    Raises:
        KeyError: a name that is not a class.
    """
    y_true = np.array([LABELS[v] for v in labels], dtype=np.int64)
    y_pred = np.array([LABELS[v] for v in predictions], dtype=np.int64)
    return compute_metrics(y_true, y_pred)[0]


def binomial_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy over ``n`` independent samples, sqrt(p (1 - p) / n)
    (a lower bound when samples of one body are correlated)."""
    return float(np.sqrt(accuracy * (1.0 - accuracy) / n))


def alike_mask(p_nsc: np.ndarray | pd.Series, tol: float = 0.005) -> np.ndarray:
    """Which samples got (nearly) the same answer: ``p_nsc`` within ``tol`` of the median of
    the finite values.

    Returns:
        bool (n,), False for a non-finite ``p_nsc``; all False for no finite values.
    """
    p = np.asarray(p_nsc, dtype=float)
    finite = np.isfinite(p)
    if not finite.any():
        return np.zeros(p.shape, dtype=bool)
    return finite & (np.abs(p - np.median(p[finite])) < tol)


def answers_alike(p_nsc: np.ndarray | pd.Series, tol: float = 0.005) -> int:
    """How many samples got (nearly) the same answer: ``p_nsc`` within ``tol`` of its median
    (:func:`alike_mask`).

    A classifier that looks at its input spreads its probabilities; one whose activations
    have collapsed (e.g. BatchNorm trained one sample at a time and evaluated with running
    statistics) returns its bias for almost every sample. 0 for no samples.
    """
    return int(alike_mask(p_nsc, tol).sum())
