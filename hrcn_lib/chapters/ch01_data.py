"""Chapter 1, the data: LCID and LCID-Blurry (the paper's Sec. 2.1, 2.3, Table 1, Figure 2)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from hrcn_lib import figures
from hrcn_lib.chapters.context import load_images, pick_rows
from hrcn_lib.manifest import dataset_table
from hrcn_lib.paper_numbers import PAPER_BLURRY, PAPER_TABLE1, paper_table1

__all__ = ["numbers", "table1", "blurry_counts", "figure2", "morphology_gallery"]


def numbers(lcid: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame,
            blurry: pd.DataFrame) -> dict[str, object]:
    """The numbers the chapter's prose glues: this run's and the paper's.

    Returns:
        ``n_samples, n_files, n_train, n_test, test_pct, n_blurry`` (ours) and
        ``paper_samples, paper_test_pct, paper_blurry`` (Table 1, Sec. 2.3).
    """
    paper = PAPER_TABLE1["total"]
    return {
        "n_samples": len(lcid), "n_files": int(lcid["path"].nunique()),
        "n_train": len(train), "n_test": len(test),
        "test_pct": 100.0 * len(test) / len(lcid), "n_blurry": len(blurry),
        "paper_samples": paper["total"], "paper_test_pct": 100.0 * paper["test"] / paper["total"],
        "paper_blurry": PAPER_BLURRY["samples"],
    }


def table1(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Table 1 of this run (:func:`hrcn_lib.manifest.dataset_table` of the split) beside the
    paper's, columns ``(ours|paper, Galaxies|NSC|Total)``."""
    return pd.concat({"ours": dataset_table({"Training": train, "Testing": test}),
                      "paper": paper_table1()}, axis=1)


def blurry_counts(blurry: pd.DataFrame) -> pd.DataFrame:
    """LCID-Blurry's bodies and samples per class, with the paper's (Sec. 2.3) as extra rows."""
    table = dataset_table(blurry)
    p = PAPER_BLURRY
    table.loc["Samples (paper)"] = [p["galaxy_samples"], p["nsc_samples"], p["samples"]]
    table.loc["Celestial bodies (paper)"] = [p["galaxy_bodies"], p["nsc_bodies"],
                                             p["galaxy_bodies"] + p["nsc_bodies"]]
    return table


def figure2(lcid: pd.DataFrame, blurry: pd.DataFrame, seed: int = 0) -> Figure:
    """The paper's Figure 2 (clear and blurry samples) for this run's data.

    Simulated data (``morphology`` and ``blurry`` columns): one clear and one blurry sample
    per morphology (:func:`hrcn_lib.figures.figure2`). Real LCID (no such columns): two
    LCID samples beside two LCID-Blurry samples.
    """
    both = pd.concat([lcid, blurry], ignore_index=True)
    if {"morphology", "blurry"} <= set(both.columns):
        rows = figures.pick_gallery_rows(both, seed=seed)
        return figures.figure2(rows, load_images(rows))
    rows = pd.concat([lcid.sample(n=min(2, len(lcid)), random_state=seed),
                      blurry.sample(n=min(2, len(blurry)), random_state=seed)])
    kinds = ["clear"] * min(2, len(lcid)) + ["blurry"] * min(2, len(blurry))
    titles = [f"{k}: {r.body} ({r.label})" for k, r in zip(kinds, rows.itertuples(), strict=True)]
    return figures.thumbnail_gallery(load_images(rows), titles, ncols=2)


def morphology_gallery(lcid: pd.DataFrame, seed: int = 0, per_group: int = 3,
                       max_groups: int = 6) -> Figure:
    """Up to ``per_group`` samples of each morphology (the body for real data), one row each."""
    column = "morphology" if "morphology" in lcid.columns else "body"
    rows = pick_rows(lcid, column, per_group=per_group, seed=seed, max_groups=max_groups)
    titles = [f"{r[column]}: {r['body']} ({r['label']})" for _, r in rows.iterrows()]
    return figures.thumbnail_gallery(load_images(rows), titles, ncols=per_group)
