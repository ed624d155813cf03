"""Chapter 1, the data: LCID and LCID-Blurry (the paper's Sec. 2.1, 2.3, Table 1, Figure 2),
and how realistic LCID-sim is (:mod:`hrcn_lib.simulate.realism`, sized by the profile's
``realism_renders``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hrcn_lib import figures
from hrcn_lib.chapters.context import Chapter, limit_samples, load_images, pick_rows
from hrcn_lib.manifest import dataset_table
from hrcn_lib.paper_numbers import PAPER_BLURRY, PAPER_TABLE1, paper_table1
from hrcn_lib.profiles import Profile
from hrcn_lib.simulate import realism

__all__ = ["numbers", "planned_sizes", "handbook_outside", "table1", "blurry_counts",
           "figure2", "morphology_gallery", "is_simulated", "handbook", "fine_scale", "separability", "detectability",
           "resolution_figure"]


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


def planned_sizes(profile: Profile) -> dict[str, int]:
    """What the profile asks the simulator for, before screening: ``planned_galaxies``,
    ``planned_nscs`` (bodies) and ``planned_galaxy_exposures``, ``planned_nsc_exposures``
    (exposures per body)."""
    return {"planned_galaxies": profile.bodies_galaxy, "planned_nscs": profile.bodies_nsc,
            "planned_galaxy_exposures": profile.exposures_per_body,
            "planned_nsc_exposures": profile.exposures_per_body * profile.nsc_exposure_factor}


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


# ----------------------------------------------------------------------------- realism


def is_simulated(lcid: pd.DataFrame) -> bool:
    """Whether the manifest is LCID-sim's (it records ``exposure`` and ``expected_detected``)."""
    return {"exposure", "expected_detected", "morphology"} <= set(lcid.columns)


def _published(low: float, high: float) -> str:
    """A published range as the table shows it: ``3.75 - 5.65``, one value, or ``-`` where
    none is published (NaN: the quantity is not compared)."""
    if pd.isna(low) and pd.isna(high):
        return "-"
    return f"{low:.4g}" if low == high else f"{low:.4g} - {high:.4g}"


def handbook(ch: Chapter, lcid: pd.DataFrame) -> pd.DataFrame:
    """:func:`hrcn_lib.simulate.realism.handbook_table` of the data, re-rendering at most
    ``profile.realism_renders`` exposures per instrument for the sky; published ranges as
    one ``published`` column (``-`` where none is published)."""
    table = realism.handbook_table(lcid, seed=ch.seed, n_sky=ch.profile.realism_renders,
                                   cr_trials=max(1, min(4, ch.profile.realism_renders)))
    low, high = table["published_low"], table["published_high"]
    table["published"] = [_published(lo, hi) for lo, hi in zip(low, high, strict=True)]
    table["against published"] = [_against(r) for r in table.to_dict("records")]
    cols = ["quantity", "instrument", "filter", "measured", "published", "against published",
            "unit", "source"]
    return table[cols]


#: :func:`_against`'s answers that put a measurement outside what its published value allows.
_OUTSIDE = ("below", "above", "below the zodiacal light alone")


def _against(row: dict) -> str:
    """Where a measured value sits against its published one: ``within``, ``below`` or
    ``above`` the range; the sky, compared with the zodiacal light alone while the simulator
    adds earthshine, is expected ``above``; "not compared" without a published value."""
    value, low, high = float(row["measured"]), float(row["published_low"]), \
        float(row["published_high"])
    if not (np.isfinite(low) and np.isfinite(high)):
        return "not compared (no published value)"
    if row["quantity"] == "sky":
        return ("above, as expected (earthshine on top of the zodiacal light)" if value >= low
                else "below the zodiacal light alone")
    return "within" if low <= value <= high else ("below" if value < low else "above")


def handbook_outside(table: pd.DataFrame | None) -> str:
    """One sentence naming the measurements of :func:`handbook` that fall outside their
    published values (never empty: it is glued into the prose)."""
    if table is None or table.empty:
        return "The handbook comparison applies to LCID-sim only."
    off = table.loc[table["against published"].isin(_OUTSIDE)]
    if off.empty:
        return ("Every measured value with a published counterpart lies within its range "
                "(the sky above the zodiacal light, as earthshine adds to it).")
    groups = off.groupby(["instrument", "quantity", "against published", "published", "unit"],
                         sort=False)
    named = "; ".join(
        f"{inst} {quantity} {where} {published} {unit}: "
        + ", ".join(f"{(r['filter'] + ' ') if r['filter'] else ''}{r['measured']:.3g}"
                    for r in rows.to_dict("records"))
        for (inst, quantity, where, published, unit), rows in groups)
    return (f"Outside the published values: {named}. benchmarks/README.md ('Measured "
            "statistics beside published HST values') discusses each: the ACS/WFC PSF model "
            "has HST's diffraction, fixed aberrations and charge diffusion but not the "
            "field-dependent aberrations that broaden the real one, and the sky's earthshine "
            "share is a model.")


def fine_scale(ch: Chapter, lcid: pd.DataFrame) -> pd.DataFrame:
    """Per class, the share of the noiseless image's variance below the 224 x 448 resize
    (:func:`hrcn_lib.simulate.realism.fine_scale_variance` on ``realism_renders`` re-rendered
    chips per class): median and quartiles, in electrons and through the stretch."""
    chips = realism.fine_scale_variance(lcid, n_per_class=ch.profile.realism_renders,
                                        seed=ch.seed)
    rows = []
    for label, grp in chips.groupby("label"):
        row = {"class": label, "chips": len(grp)}
        for col in ("linear", "stretched"):
            q = grp[col].quantile([0.25, 0.5, 0.75])
            row[f"{col}: median"] = round(float(q[0.5]), 3)
            row[f"{col}: quartiles"] = f"{q[0.25]:.3f} - {q[0.75]:.3f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("class")


def separability(ch: Chapter, lcid: pd.DataFrame, max_samples: int = 400
                 ) -> tuple[pd.DataFrame, dict]:
    """Can simple global statistics tell the classes apart? AUC of each statistic alone and a
    body-grouped cross-validated logistic regression / random forest on all twelve
    (:mod:`hrcn_lib.simulate.realism`), on at most ``max_samples`` samples (class-balanced).

    Returns:
        ``(auc table, summary)``; the folds are at most the number of bodies per class.
    """
    rows = limit_samples(lcid, max_samples, ch.seed)
    table = realism.statistics_table(rows)
    folds = int(min(5, table.groupby("label")["body"].nunique().min()))
    summary = realism.separability(table, folds=max(2, folds), seed=ch.seed) if folds >= 2 \
        else {}
    return realism.single_statistic_auc(table), summary


def detectability(ch: Chapter, lcid: pd.DataFrame, blurry: pd.DataFrame) -> pd.DataFrame:
    """Labelled chips whose object is not expected to be detectable, and the share of chips
    the screening rejected (:func:`hrcn_lib.simulate.realism.detectability`)."""
    log = ch.data_dir / "screening.csv"
    return realism.detectability(pd.concat([lcid, blurry], ignore_index=True),
                                 log if log.exists() else None)


def resolution_figure(ch: Chapter, lcid: pd.DataFrame) -> Figure:
    """Full-resolution crops of each morphology beside the whole chip resized to 224 x 448
    (:func:`hrcn_lib.simulate.realism.resolution_crops`, drawn by
    :func:`hrcn_lib.figures.resolution_comparison`)."""
    return figures.resolution_comparison(realism.resolution_crops(lcid, seed=ch.seed))
