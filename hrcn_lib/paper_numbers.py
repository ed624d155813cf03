"""The paper's published numbers (Zhang et al. 2023), transcribed once, clearly labelled.

Every constant here is *the paper's*, copied from its tables and text; none of
them is measured by this project. The book shows them in a "paper" column
beside "ours" and never presents them as our results. Model and data set
display names (:data:`MODEL_LABELS`, :data:`DATASET_LABELS`) come from
:mod:`hrcn_lib.names`. This module imports pandas only (no torch).

Units: accuracies and F1 scores are percentages (0-100) as printed; times are
milliseconds per sample; memory sizes are MB (input, model) and GB (total).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hrcn_lib.names import DATASET_LABELS, MODEL_LABELS, PAIRS

__all__ = [
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "PAPER_TABLE3",
    "PAPER_TABLE4",
    "PAPER_TABLE_A1",
    "PAPER_BLURRY",
    "PAPER_BLURRY_ACCURACY",
    "PAPER_BLURRY_MISCLASSIFIED",
    "PAPER_MISCLASSIFICATION_CAUSES",
    "PAPER_RECIPE",
    "MODEL_LABELS",
    "DATASET_LABELS",
    "paper_table1",
    "paper_table3",
    "paper_table4",
    "paper_table_a1",
    "paper_confusion",
]

#: Table 1: celestial bodies and samples of LCID (class -> counts).
PAPER_TABLE1: dict[str, dict[str, int]] = {
    "galaxy": {"bodies": 48, "train": 3310, "test": 852, "total": 4162},
    "NSC": {"bodies": 23, "train": 2908, "test": 743, "total": 3651},
    "total": {"bodies": 71, "train": 6218, "test": 1595, "total": 7813},
}

#: Table 2: (layer, type, kernel, stride, output size (C, H, W) or (N,), activation, params).
PAPER_TABLE2: tuple[tuple[str, str, str, str, tuple[int, ...], str, int], ...] = (
    ("-", "Input", "-", "-", (1, 2048, 4096), "-", 0),
    ("1", "Convolution", "7x7", "1x1", (32, 2042, 4090), "ReLU", 1_600),
    ("2", "Max Pooling", "8x8", "4x4", (32, 509, 1021), "-", 0),
    ("3", "Convolution", "7x7", "1x1", (64, 503, 1015), "ReLU", 100_416),
    ("4", "Max Pooling", "4x4", "2x2", (64, 250, 506), "-", 0),
    ("5", "Convolution", "5x5", "1x1", (128, 246, 502), "ReLU", 204_928),
    ("6", "Convolution", "5x5", "1x1", (128, 242, 498), "ReLU", 409_728),
    ("7", "Max Pooling", "2x2", "2x2", (128, 121, 248), "-", 0),
    ("8", "Convolution", "3x3", "1x1", (256, 119, 247), "ReLU", 295_168),
    ("9", "Convolution", "3x3", "1x1", (256, 117, 245), "ReLU", 590_080),
    ("10", "Max Pooling", "2x2", "2x2", (256, 58, 122), "-", 0),
    ("11", "Convolution", "3x3", "1x1", (256, 56, 120), "ReLU", 590_080),
    ("12", "Convolution", "3x3", "1x1", (256, 54, 118), "ReLU", 590_080),
    ("13", "Max Pooling", "2x2", "2x2", (256, 27, 59), "-", 0),
    ("14", "Convolution", "3x3", "1x1", (512, 25, 57), "ReLU", 1_180_160),
    ("15", "Convolution", "3x3", "1x1", (512, 23, 55), "ReLU", 2_359_808),
    ("16", "Max Pooling", "2x2", "2x2", (512, 11, 27), "-", 0),
    ("17", "Convolution", "3x3", "1x1", (512, 9, 25), "ReLU", 2_359_808),
    ("18", "Convolution", "3x3", "1x1", (512, 7, 23), "ReLU", 2_359_808),
    ("19", "Max Pooling", "2x2", "2x2", (512, 3, 11), "-", 0),
    ("20", "Fully Connected", "-", "-", (4096,), "ReLU", 69_210_112),
    ("21", "Fully Connected", "-", "-", (4096,), "ReLU", 16_781_312),
    ("22", "Output", "-", "-", (2,), "Softmax", 8_194),
)

#: Table 3: per pair, input MB (batch 4, fp32), model MB and the estimated total training
#: size GB, with the image size as printed.
PAPER_TABLE3: pd.DataFrame = pd.DataFrame(
    [("alexnet", "lcid-resize", "224 x 448", 1.53, 385.42, 0.44),
     ("alexnet", "lcid", "2048 x 4096", 128.0, 385.42, 6.21),
     ("vgg", "lcid-resize", "224 x 448", 1.53, 904.22, 3.40),
     ("vgg", "lcid", "2048 x 4096", 128.0, 904.22, 211.14),
     ("resnet", "lcid-resize", "224 x 448", 1.53, 42.62, 0.53),
     ("resnet", "lcid", "2048 x 4096", 128.0, 42.62, 41.17),
     ("hr-celestialnet", "lcid", "2048 x 4096", 128.0, 370.21, 32.79)],
    columns=["model", "dataset", "image_size", "input_mb", "model_mb", "total_gb"],
)

#: Table 4: (model, dataset) -> accuracy and F1 (percent), times (ms/sample).
PAPER_TABLE4: dict[tuple[str, str], dict[str, float]] = {
    ("alexnet", "lcid-resize"): {"accuracy": 79.12, "f1_galaxy": 78.75, "f1_nsc": 79.48,
                                 "preprocess_ms": 120.6, "classify_ms": 0.8, "total_ms": 121.4},
    ("alexnet", "lcid"): {"accuracy": 77.18, "f1_galaxy": 76.58, "f1_nsc": 77.75,
                          "preprocess_ms": 60.6, "classify_ms": 35.8, "total_ms": 96.4},
    ("vgg", "lcid-resize"): {"accuracy": 88.28, "f1_galaxy": 89.21, "f1_nsc": 87.17,
                             "preprocess_ms": 120.6, "classify_ms": 4.7, "total_ms": 125.3},
    ("vgg", "lcid"): {"accuracy": 87.46, "f1_galaxy": 88.15, "f1_nsc": 86.68,
                      "preprocess_ms": 60.6, "classify_ms": 260.5, "total_ms": 321.1},
    ("resnet", "lcid-resize"): {"accuracy": 86.27, "f1_galaxy": 87.05, "f1_nsc": 85.39,
                                "preprocess_ms": 120.6, "classify_ms": 5.8, "total_ms": 126.4},
    ("resnet", "lcid"): {"accuracy": 87.65, "f1_galaxy": 88.72, "f1_nsc": 86.35,
                         "preprocess_ms": 60.6, "classify_ms": 56.9, "total_ms": 117.5},
    ("hr-celestialnet", "lcid"): {"accuracy": 89.09, "f1_galaxy": 90.20, "f1_nsc": 87.69,
                                  "preprocess_ms": 60.6, "classify_ms": 55.9, "total_ms": 116.5},
}

#: Table A1 (Appendix A): the printed rows of the LCID sample listing.
PAPER_TABLE_A1: tuple[tuple[str, str, str, str, float, float, int], ...] = (
    ("NGC628", "ACS/WFC", "j96r23b7q", "F435W", 24.152604, 15.769880, 1),
    ("NGC628", "ACS/WFC", "j96r23b7q", "F435W", 24.179654, 15.782398, 4),
    ("NGC6302", "WFC3/UVIS", "ie3o05ywwq", "F673N", 258.422912, -37.091733, 1),
    ("NGC6302", "WFC3/UVIS", "ie3o05ywwq", "F673N", 258.441272, -37.109340, 4),
    ("M101", "ACS/WFC", "jc1373esq", "F555W", 210.893431, 54.374057, 1),
    ("M101", "ACS/WFC", "jc1373esq", "F555W", 210.871072, 54.348267, 4),
    ("RMC136", "ACS/WFC", "jb6wd6evq", "F814W", 84.805574, -69.207164, 1),
    ("RMC136", "ACS/WFC", "jb6wd6evq", "F814W", 84.734141, -69.193331, 4),
    ("IC1954", "WFC3/UVIS", "idxr57q6q", "F336W", 52.864111, -51.900839, 1),
    ("IC1954", "WFC3/UVIS", "idxr57q6q", "F336W", 52.899666, -51.907415, 4),
    ("M32", "ACS/WFC", "jcnw11o5q", "F814W", 10.621762, 40.868951, 4),
    ("NGC1559", "WFC3/UVIS", "idxr11e0q", "F275W", 64.414259, -62.800284, 1),
    ("NGC1559", "WFC3/UVIS", "idxr11e0q", "F275W", 64.409500, -62.777487, 4),
    ("NGC1982", "ACS/WFC", "j8dw03yewq", "F502N", 83.861574, -5.265002, 1),
    ("NGC1982", "ACS/WFC", "j8dw03yewq", "F502N", 83.833402, -5.271876, 4),
    ("NGC6302", "WFC3/UVIS", "iaco01e4q", "F656N", 258.448209, -37.111782, 1),
    ("NGC6302", "WFC3/UVIS", "iaco01e4q", "F656N", 258.424634, -37.098706, 4),
    ("NGC1097", "ACS/WFC", "jdkx38fhq", "F814W", 41.576483, -30.247906, 1),
    ("NGC1097", "ACS/WFC", "jdkx38fhq", "F814W", 41.563183, -30.274417, 4),
    ("M82", "ACS/WFC", "j9oe02wvq", "F660N", 148.864287, 69.687912, 1),
)

#: Sec. 2.3: LCID-Blurry composition.
PAPER_BLURRY: dict[str, int] = {
    "samples": 116, "galaxy_bodies": 10, "galaxy_samples": 73, "nsc_bodies": 8, "nsc_samples": 43,
}

#: Sec. 4.2 / Fig. 3: accuracy (percent) on LCID-Blurry per model (each on its own data set:
#: HR-CelestialNet on LCID; the paper does not say which data set the baselines' Fig. 3 uses).
PAPER_BLURRY_ACCURACY: dict[str, float] = {
    "hr-celestialnet": 84.48, "vgg": 78.45, "alexnet": 75.86, "resnet": 75.0,
}

#: Sec. 4.2: misclassified LCID-Blurry samples per true class. The text gives
#: "1 to 4" galaxy errors for HR-CelestialNet, VGGNet and AlexNet jointly; the
#: per-model values below follow from the accuracies and the 73/43 split
#: (e.g. HR-CelestialNet: 116 * (1 - 0.8448) = 18 errors = 1 galaxy + 17 NSC).
PAPER_BLURRY_MISCLASSIFIED: dict[str, dict[str, int]] = {
    "hr-celestialnet": {"galaxy": 1, "NSC": 17},
    "vgg": {"galaxy": 1, "NSC": 24},
    "alexnet": {"galaxy": 4, "NSC": 24},
    "resnet": {"galaxy": 18, "NSC": 11},
}

#: Sec. 5.2 / Fig. 4: the three causes of misclassification and the paper's examples.
PAPER_MISCLASSIFICATION_CAUSES: dict[str, tuple[str, ...]] = {
    "inter-class similarity": ("NGC6744 (galaxy with dense point sources)",
                               "M16 (nebula with arm-like structure)"),
    "insufficient features": ("M82 (small part of the galaxy)", "NGC 419 (edge of the cluster)"),
    "image noise": ("bright slanted trail (satellite/comet)", "'8'-shaped diffraction artefact"),
}

#: Sec. 3.1: the training recipe.
PAPER_RECIPE: dict[str, float | int | str] = {
    "optimizer": "SGD", "lr": 1e-4, "batch_size": 4, "epochs": 20, "loss": "cross-entropy",
}


def paper_table1() -> pd.DataFrame:
    """Table 1 as printed: rows = statistics, columns = Galaxies, NSC, Total (int)."""
    rows = {"Celestial bodies": "bodies", "Samples (Training)": "train",
            "Samples (Testing)": "test", "Samples (Total)": "total"}
    data = {col: [PAPER_TABLE1[key][stat] for stat in rows.values()]
            for col, key in (("Galaxies", "galaxy"), ("NSC", "NSC"), ("Total", "total"))}
    return pd.DataFrame(data, index=list(rows))


def paper_table3() -> pd.DataFrame:
    """Table 3 as printed: ``model, dataset, image_size, input_mb, model_mb, total_gb``
    (a copy of :data:`PAPER_TABLE3`)."""
    return PAPER_TABLE3.copy()


def paper_table4() -> pd.DataFrame:
    """Table 4 as printed: one row per (model, dataset) with metrics (%) and times (ms)."""
    return pd.DataFrame([{"model": m, "dataset": d, **PAPER_TABLE4[(m, d)]} for m, d in PAIRS])


def paper_table_a1() -> pd.DataFrame:
    """The printed rows of Table A1 with the manifest's column names."""
    return pd.DataFrame(list(PAPER_TABLE_A1),
                        columns=["body", "instrument", "obsid", "filter", "ra", "dec", "hdu"])


def _confusion_from_scores(n_galaxy: int, n_nsc: int, accuracy: float, f1_galaxy: float,
                           f1_nsc: float) -> tuple[int, int]:
    """The one (galaxies right, NSCs right) pair that reproduces three printed percentages.

    Args:
        n_galaxy, n_nsc: true class counts of the evaluated set.
        accuracy, f1_galaxy, f1_nsc: the printed values in percent (two decimals).

    Returns:
        ``(a, b)``: galaxies classified as galaxy, NSCs classified as NSC.

    Raises:
        ValueError: no pair, or more than one, rounds to all three printed values.
    """
    total = n_galaxy + n_nsc
    found = []
    for b in range(n_nsc + 1):
        for a in range(n_galaxy + 1):
            if round(100 * (a + b) / total, 2) != accuracy:
                continue
            # F1 = 2TP / (2TP + FP + FN); FP of one class are the FN of the other.
            f1_g = 100 * 2 * a / (a + n_galaxy + n_nsc - b)
            f1_n = 100 * 2 * b / (b + n_nsc + n_galaxy - a)
            if round(f1_g, 2) == f1_galaxy and round(f1_n, 2) == f1_nsc:
                found.append((a, b))
    if len(found) != 1:
        raise ValueError(f"{len(found)} confusion matrices reproduce accuracy {accuracy} %, "
                         f"F1 {f1_galaxy} / {f1_nsc} % on {n_galaxy} + {n_nsc} samples; "
                         "expected exactly one")
    return found[0]


def paper_confusion(model: str, dataset: str = "lcid", set_name: str = "test") -> np.ndarray:
    """The paper's confusion matrix, recovered from its printed numbers (not measured by us).

    On the test set (852 galaxies, 743 NSCs, Table 1) the accuracy and the two F1
    scores of Table 4 fix the matrix exactly: one integer pair reproduces all three
    printed values. On LCID-Blurry (73 galaxies, 43 NSCs, Sec. 2.3) Sec. 4.2 gives
    the misclassified samples per class (:data:`PAPER_BLURRY_MISCLASSIFIED`); the
    paper reports blurry results per model only, so ``dataset`` is ignored there.

    Args:
        model: ``"hr-celestialnet"``, ``"alexnet"``, ``"vgg"`` or ``"resnet"``.
        dataset: ``"lcid"`` or ``"lcid-resize"`` (test set only).
        set_name: ``"test"`` (Table 4) or ``"blurry"`` (Fig. 3 / Sec. 4.2).

    Returns:
        int64 array, shape (2, 2): rows = true class, columns = predicted class, in the
        order galaxy, NSC (as :func:`sklearn.metrics.confusion_matrix` with labels 0, 1).

    Raises:
        KeyError: the paper has no such model/dataset/set.
    """
    if set_name == "blurry":
        wrong = PAPER_BLURRY_MISCLASSIFIED[model]
        n_g, n_n = PAPER_BLURRY["galaxy_samples"], PAPER_BLURRY["nsc_samples"]
        return np.array([[n_g - wrong["galaxy"], wrong["galaxy"]],
                         [wrong["NSC"], n_n - wrong["NSC"]]], dtype=np.int64)
    if set_name != "test":
        raise KeyError(f"the paper reports no set {set_name!r}; use 'test' or 'blurry'")
    row = PAPER_TABLE4[(model, dataset)]
    n_g, n_n = PAPER_TABLE1["galaxy"]["test"], PAPER_TABLE1["NSC"]["test"]
    a, b = _confusion_from_scores(n_g, n_n, row["accuracy"], row["f1_galaxy"], row["f1_nsc"])
    return np.array([[a, n_g - a], [n_n - b, b]], dtype=np.int64)
