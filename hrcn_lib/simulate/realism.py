"""How realistic is LCID-sim? Measurements of a simulated dataset beside published HST values,
for the book's chapter 1 and ``benchmarks/README.md``. Every function returns a DataFrame (or a
dict) and draws nothing (figures live in :mod:`hrcn_lib.figures`).

* :func:`handbook_table` -- measured read noise, saturation level, cosmic-ray pixel
  fraction, sky per filter and PSF FWHM per filter beside the instrument handbooks'
  values, each with its source.
* :func:`fine_scale_variance` -- per class, the fraction of the noiseless image's
  variance on scales below the 224 x 448 resize (what LCID-Resize throws away).
* :func:`statistics_table`, :func:`single_statistic_auc`, :func:`separability` --
  can simple global image statistics tell the classes apart? (body-grouped CV)
* :func:`detectability` -- labelled chips whose object is not expected to be
  detectable, and the share of chips the screening rejected.
* :func:`resolution_crops` -- full-resolution crops of each morphology beside the
  whole chip resized to 224 x 448 (drawn by :func:`hrcn_lib.figures.resolution_comparison`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hrcn_lib.instruments import detector

__all__ = [
    "FEATURES",
    "RESIZE_SHAPE",
    "image_statistics",
    "statistics_table",
    "single_statistic_auc",
    "separability",
    "detectability",
    "fine_scale_fraction",
    "fine_scale_variance",
    "handbook_table",
    "sky_reference",
    "resolution_crops",
    "PUBLISHED",
]

#: (rows, cols) of LCID-Resize (the paper's 224 x 448).
RESIZE_SHAPE: tuple[int, int] = (224, 448)
#: Names of the global image statistics (:func:`image_statistics`).
FEATURES: tuple[str, ...] = ("mean", "std", "skew", "kurtosis", "p50", "p90", "p99", "frac_gt1",
                             "frac_gt3", "grad_mean", "peak_density", "smooth_frac")

#: Published values the measurements are compared with: (low, high, unit, source).
PUBLISHED: dict[tuple[str, str], tuple[float, float, str, str]] = {
    ("read noise", "ACS/WFC"): (3.75, 5.65, "e-", "ACS IHB §3.5 Table 3.1 (range over amplifiers)"),
    ("read noise", "WFC3/UVIS"): (3.1, 3.2, "e-", "WFC3 IHB §5.1 Table 5.1"),
    ("saturation", "ACS/WFC"): (72_400.0, 82_400.0, "e-",
                                "ACS IHB §3.5 Table 3.1 / §4.3.1: ~77,400 +- 5,000 e-"),
    ("saturation", "WFC3/UVIS"): (63_000.0, 72_000.0, "e-",
                                  "WFC3 IHB §5.1 Table 5.1; WFC3 DHB §5.6.1 (full well)"),
    ("cosmic-ray pixels per 1000 s", "ACS/WFC"): (0.015, 0.03, "fraction",
                                                 "ACS IHB (2005) §4.3: 1.5-3 % per 1000 s"),
    ("cosmic-ray pixels per 1000 s", "WFC3/UVIS"): (0.015, 0.03, "fraction",
                                                   "WFC3 IHB §6.10.2: comparable to ACS"),
    ("PSF FWHM", "WFC3/UVIS"): (1.6 * 0.04, 2.3 * 0.04, "arcsec",
                                "MultiDrizzle Handbook §6.6 / WFC3 IHB §6.6.1 Table 6.7: "
                                "1.6-2.3 pixels before pixelation, 200-1000 nm"),
    ("PSF FWHM", "ACS/WFC"): (0.10, 0.13, "arcsec",
                              "ACS IHB (2005) §5.6.6: F550M FWHM 0.10-0.13 arcsec over the "
                              "field (charge diffusion)"),
}
_SKY_SOURCE = ("average zodiacal light V = 22.7 mag/arcsec^2 (ACS/WFC3 IHB §9 sky backgrounds; "
               "STIS IHB §6.6), solar spectrum, through GalSim's HST throughputs")


# ----------------------------------------------------------------------------- statistics


def image_statistics(sample: np.ndarray) -> np.ndarray:
    """Twelve global statistics of one (2048, 4096) sample, on a 512 x 1024 area-average.

    Moments and percentiles of the pixel values, bright-pixel fractions, mean
    gradient magnitude, density of local maxima above 2 (point sources) and the
    fraction of the variance in structure larger than 8 pixels (smoothness).
    Returns float64 (12,) in the order of :data:`FEATURES`.
    """
    from scipy import stats

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


def statistics_table(manifest: pd.DataFrame, loader: Callable | None = None,
                     progress: bool = False) -> pd.DataFrame:
    """:func:`image_statistics` of every row of a manifest (normalised columns, absolute paths).

    Returns:
        one row per sample: the :data:`FEATURES`, plus ``body``, ``label``, and
        ``blurry``/``morphology`` when the manifest has them.
    """
    from tqdm.auto import tqdm

    if loader is None:
        from hrcn_lib.preprocess import load_sample as loader
    pairs = list(zip(manifest["path"], manifest["hdu"], strict=True))
    feats = [image_statistics(loader(p, h)) for p, h in tqdm(pairs, desc="statistics",
                                                              disable=not progress)]
    out = pd.DataFrame(feats, columns=FEATURES, index=manifest.index)
    keep = [c for c in ("body", "label", "blurry", "morphology") if c in manifest.columns]
    return out.join(manifest[keep])


def single_statistic_auc(table: pd.DataFrame) -> pd.DataFrame:
    """ROC AUC of each statistic alone as a galaxy/NSC score (``max(AUC, 1 - AUC)``).

    Returns:
        DataFrame ``feature, auc, higher_for`` sorted by AUC (highest first).
    """
    from sklearn.metrics import roc_auc_score

    y = (table["label"] == "NSC").to_numpy().astype(int)
    rows = []
    for f in FEATURES:
        auc = float(roc_auc_score(y, table[f].to_numpy()))
        rows.append({"feature": f, "auc": max(auc, 1.0 - auc),
                     "higher_for": "NSC" if auc >= 0.5 else "galaxy"})
    return pd.DataFrame(rows).sort_values("auc", ascending=False).reset_index(drop=True)


def separability(table: pd.DataFrame, folds: int = 5, seed: int = 0) -> dict:
    """Body-grouped cross-validated accuracy of a logistic regression (and a random forest)
    on the :data:`FEATURES` (no body in both training and test folds, as in the paper's split).

    Returns:
        dict with ``samples, bodies, nsc_fraction, folds, logreg_accuracy(_std),
        forest_accuracy(_std), majority_accuracy``.
    """
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
            "majority_accuracy": float(max(y.mean(), 1 - y.mean()))}


# ----------------------------------------------------------------------------- screening


def detectability(manifest: pd.DataFrame, screening_log: str | Path | None = None,
                  min_expected: float = 0.01) -> pd.DataFrame:
    """Labelled chips without a detectable object, and what the screening rejected.

    A labelled chip counts as "without a detectable object" when fewer than
    ``min_expected`` of its object's screen pixels are *expected* (from the
    noiseless signal and the noise model, manifest column ``expected_detected``)
    to stand 3 sigma above the background -- an audit independent of the noisy
    realisation the screening rule saw.

    Returns:
        one row per subset (``lcid``, ``blurry``; and ``all``): ``labelled``,
        ``undetectable``, ``undetectable_fraction``, and from ``screening.csv``
        (if given) ``on_object`` chips and ``rejected_fraction``.
    """
    rows = []
    log = pd.read_csv(screening_log) if screening_log is not None else None
    groups = [(s, manifest[manifest["subset"] == s]) for s in sorted(manifest["subset"].unique())]
    for name, part in [*groups, ("all", manifest)]:
        bad = int((part["expected_detected"] < min_expected).sum())
        row = {"subset": name, "labelled": int(len(part)), "undetectable": bad,
               "undetectable_fraction": bad / max(len(part), 1)}
        if log is not None:
            sub = log if name == "all" else log[log["subset"] == name]
            on = sub[sub["screening"] != "off_object"]
            row["on_object"] = int(len(on))
            row["rejected_fraction"] = float((on["screening"] != "selected").mean()) \
                if len(on) else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- scales


def fine_scale_fraction(image: np.ndarray, shape: tuple[int, int] = RESIZE_SHAPE) -> float:
    """Fraction of an image's variance on scales below a resize to ``shape``.

    ``var(I - up(down(I))) / var(I)`` with ``down`` an area average to ``shape``
    (rows, cols) and ``up`` bilinear interpolation back.
    """
    img = np.ascontiguousarray(image[:2048, :4096], dtype=np.float32)
    small = cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    var = float(img.var(dtype=np.float64))
    return float((img - back).var(dtype=np.float64) / var) if var > 0 else 0.0


def _render_rows(manifest: pd.DataFrame, seed: int) -> Iterable[tuple[pd.Series, object]]:
    from hrcn_lib.simulate.render import render_exposure

    for _, row in manifest.iterrows():
        yield row, render_exposure(seed, row["body"], int(row["exposure"]), keep_signal=True)


def fine_scale_variance(manifest: pd.DataFrame, n_per_class: int = 6, seed: int = 0,
                        pick_seed: int = 0) -> pd.DataFrame:
    """Per class: the fraction of the noiseless image's variance below the 224 x 448 resize.

    Re-renders up to ``n_per_class`` chips per class (LCID-sim manifests only:
    ``body`` and ``exposure`` columns) and measures :func:`fine_scale_fraction` of
    the noiseless signal (e-), and of the same signal through the preprocessing's
    stretch ``asinh(S / (3 sigma))`` with sigma the sky + dark + read-noise rms --
    what the model sees, without the noise.

    Returns:
        one row per chip (``label, morphology, body, hdu, linear, stretched``).
    """
    rows = []
    picks = pd.concat([g.sample(min(n_per_class, len(g)), random_state=pick_seed)
                       for _, g in manifest.groupby("label", sort=True)])
    for row, rendered in _render_rows(picks, seed):
        det = detector(rendered.exposure.instrument)
        hdu = int(row["hdu"])
        sig = rendered.signal[hdu]
        from hrcn_lib.simulate.detector import dark_rate
        from hrcn_lib.simulate.photometry import sky_rate

        exp = rendered.exposure
        bg = (sky_rate(exp.instrument, exp.filter, det.pixel_scale)
              + dark_rate(det, exp.mjd)) * exp.exptime
        rn = float(np.mean([e.read_noise for e in det.electronics.values()]))
        sigma = math.sqrt(bg + rn * rn)
        rows.append({"label": row["label"], "morphology": row["morphology"],
                     "body": row["body"], "hdu": hdu, "linear": fine_scale_fraction(sig),
                     "stretched": fine_scale_fraction(np.arcsinh(sig / np.float32(3 * sigma)))})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- handbook


def sky_reference(filt_bandpass: str, pixel_scale: float, v_mag: float = 22.7) -> float:
    """Sky (e-/s/pixel) of zodiacal light of ``v_mag`` V mag/arcsec^2 with a solar spectrum
    through one of GalSim's shipped HST throughputs (e.g. ``"ACS_wfc_F606W"``)."""
    import galsim

    area = math.pi * 120.0**2 * (1.0 - 0.33**2)  # cm^2, HST's unobscured aperture
    sun = galsim.SED(lambda w: 1.0 / (w**5 * (np.exp(1.4388e7 / (w * 5800.0)) - 1.0)),
                     wave_type="nm", flux_type="flambda")
    v_ab = v_mag + 0.02  # V (Vega) -> AB
    sun = sun.withMagnitude(v_ab, galsim.Bandpass(galsim.LookupTable(
        [540.0, 541.0, 549.0, 550.0], [0.0, 1.0, 1.0, 0.0]), wave_type="nm")
        .withZeropoint("AB"))
    bp = galsim.Bandpass(f"{filt_bandpass}.dat", wave_type="nm")
    return float(sun.calculateFlux(bp) * area * pixel_scale**2)


_SKY_BANDS = {("ACS/WFC", "F435W"): "ACS_wfc_F435W", ("ACS/WFC", "F606W"): "ACS_wfc_F606W",
              ("ACS/WFC", "F775W"): "ACS_wfc_F775W", ("ACS/WFC", "F814W"): "ACS_wfc_F814W",
              ("WFC3/UVIS", "F275W"): "WFC3_uvis_F275W",
              ("WFC3/UVIS", "F336W"): "WFC3_uvis_F336W"}


def _published(quantity: str, instrument: str) -> dict:
    lo, hi, unit, source = PUBLISHED[(quantity, instrument)]
    return {"published_low": lo, "published_high": hi, "unit": unit, "source": source}


def _raw_noise(path: str, instrument: str) -> list[float]:
    """Read noise (e-) of each amplifier from the overscan of a raw file: differences of
    adjacent overscan columns (which cancel the row-correlated striping), each pair's mean
    removed (the bias's fixed column pattern), / sqrt(2), times the gain."""
    from astropy.io import fits

    det = detector(instrument)
    out = []
    with fits.open(path) as hdul:
        for hdu, lay in det.chips.items():
            data = hdul[hdu].data.astype(np.float64)
            for amp in lay.amps:
                over = data[slice(*lay.science_rows), slice(*amp.bias_cols)]
                diff = np.diff(over, axis=1)
                diff -= diff.mean(axis=0)
                keep = np.abs(diff) < 6 * diff.std()
                out.append(float(diff[keep].std() / math.sqrt(2.0))
                           * det.electronics[amp.name].gain)
    return out


def handbook_table(manifest: pd.DataFrame, seed: int = 0, n_sky: int = 6,
                   cr_trials: int = 4) -> pd.DataFrame:
    """Measured statistics beside published HST values.

    Args:
        manifest: an LCID-sim manifest (normalised columns, absolute paths).
        seed: the dataset's master seed (for re-rendering sky measurements).
        n_sky: exposures re-rendered per instrument to measure the sky.
        cr_trials: 1000-s cosmic-ray frames drawn per instrument.

    Returns:
        DataFrame ``quantity, instrument, filter, measured, published_low,
        published_high, unit, source`` (PSF rows also ``measured_pixelated``: the FWHM
        measured on the pixel-integrated stamp; ``measured`` is before pixelation, as
        WFC3 IHB Table 6.7 tabulates). Sky rows compare with the handbooks' average
        zodiacal light (:func:`sky_reference`); the simulator's sky also holds average
        earthshine, so it should sit above.
    """
    from hrcn_lib.simulate.cosmics import HIT_THRESHOLD, add_cosmic_rays
    from hrcn_lib.simulate.psf import psf_model

    rows: list[dict] = []
    for inst in ("ACS/WFC", "WFC3/UVIS"):
        det = detector(inst)
        part = manifest[manifest["instrument"] == inst]
        paths = list(dict.fromkeys(part["path"]))[:4]
        noise = [n for p in paths for n in _raw_noise(p, inst)]
        if noise:
            rows.append({"quantity": "read noise", "instrument": inst, "filter": "",
                         "measured": float(np.median(noise)), **_published("read noise", inst)})
        sat = _saturation(part, inst)
        if sat is not None:
            rows.append({"quantity": "saturation", "instrument": inst, "filter": "",
                         "measured": sat, **_published("saturation", inst)})
        rng = np.random.default_rng([seed, 5, len(inst)])
        fracs = []
        for _ in range(cr_trials):
            img = np.zeros((2048, 4096), np.float32)
            charge, _ = add_cosmic_rays(rng, img, 1000.0, float(rng.uniform(0.7, 1.3)),
                                        want_image=True)
            fracs.append(float((charge > HIT_THRESHOLD).mean()))
        rows.append({"quantity": "cosmic-ray pixels per 1000 s", "instrument": inst,
                     "filter": "", "measured": float(np.mean(fracs)),
                     **_published("cosmic-ray pixels per 1000 s", inst)})
        for filt in sorted(part["filter"].unique()):
            model = psf_model(det.pixel_scale, filt, 0.0)
            rows.append({"quantity": "PSF FWHM", "instrument": inst, "filter": filt,
                         "measured": model.fwhm_optical, "measured_pixelated": model.fwhm,
                         **_published("PSF FWHM", inst)})
        rows += _sky_rows(part, inst, seed, n_sky)
    return pd.DataFrame(rows)


def _saturation(part: pd.DataFrame, instrument: str) -> float | None:
    """Full well (e-) seen in raw files with saturated stars: the median of the pixels within
    2 % of the brightest science pixel, bias-subtracted, times the gain."""
    from hrcn_lib.preprocess import amp_biases, extract_science

    det = detector(instrument)
    sat = part[part["defects"].str.contains("saturation", na=False)]
    values = []
    for path, hdu in list(zip(sat["path"], sat["hdu"], strict=True))[:4]:
        sci = extract_science(path, int(hdu))
        biases = amp_biases(path, int(hdu))
        lay = det.chips[int(hdu)]
        for k, amp in enumerate(lay.amps):
            half = sci[:, 2048 * k:2048 * (k + 1)] - np.float32(biases[k])
            top = half.max()
            values.append(float(np.median(half[half > 0.98 * top]))
                          * det.electronics[amp.name].gain)
    return float(np.median(values)) if values else None


#: Object-free pixels a chip needs for its sky to be measured (a 100 x 100 patch).
_MIN_SKY_PIXELS = 10_000
#: Chips re-rendered per filter at most while looking for one with enough sky.
_SKY_TRIES = 3


def _sky_rows(part: pd.DataFrame, instrument: str, seed: int, n_sky: int) -> list[dict]:
    """Sky per filter measured on re-rendered exposures: the 4-sigma-clipped mean of the
    bias-subtracted electrons (divided by the detector response) over pixels where the
    noiseless object signal is below 0.2 e- and no cosmic ray fell, minus the dark current.
    A chip with fewer than :data:`_MIN_SKY_PIXELS` such pixels (the object covers it) is
    skipped for the filter's next chip (at most :data:`_SKY_TRIES` per filter); a filter
    without a measurable chip gets no row."""
    from hrcn_lib.preprocess import amp_biases, extract_science
    from hrcn_lib.simulate.detector import dark_rate, response_map

    det = detector(instrument)
    rows = []
    seen: set[str] = set()
    tried: dict[str, int] = {}
    # filters with a shipped throughput first, then the others; chips least covered first
    order = part.assign(_ref=[(instrument, f) not in _SKY_BANDS for f in part["filter"]])
    for _, row in order.sort_values(["_ref", "object_fraction"]).iterrows():
        filt = row["filter"]
        if filt in seen or len(seen) >= n_sky or tried.get(filt, 0) >= _SKY_TRIES:
            continue
        tried[filt] = tried.get(filt, 0) + 1
        (_, rendered), = list(_render_rows(part.loc[[row.name]], seed))
        hdu = int(row["hdu"])
        sci = extract_science(row["path"], hdu)
        b = amp_biases(row["path"], hdu)
        lay = det.chips[hdu]
        k0 = lay.keep_rows[0] - lay.science_rows[0]
        sig = rendered.signal[hdu][k0:k0 + 2048]
        resp = response_map(instrument, hdu)[k0:k0 + 2048]
        elec = np.empty_like(sci)
        for k, amp in enumerate(lay.amps):
            cols = slice(2048 * k, 2048 * (k + 1))
            elec[:, cols] = (sci[:, cols] - np.float32(b[k])) * np.float32(
                det.electronics[amp.name].gain)
        exp = rendered.exposure
        clean = (sig < 0.2) & (rendered.cr_masks[hdu][k0:k0 + 2048] == 0)
        if np.count_nonzero(clean) < _MIN_SKY_PIXELS:
            continue  # the object covers the chip: no sky to measure here, try another
        seen.add(filt)
        vals = (elec[clean] / resp[clean]).astype(np.float64)
        for _ in range(3):
            mid, spread = np.median(vals), vals.std()
            vals = vals[np.abs(vals - mid) < 4 * spread]
        sky = (vals.mean() - dark_rate(det, exp.mjd) * exp.exptime) / exp.exptime
        ref = _SKY_BANDS.get((instrument, filt))
        published = sky_reference(ref, det.pixel_scale) if ref else float("nan")
        rows.append({"quantity": "sky", "instrument": instrument, "filter": filt,
                     "measured": float(sky), "published_low": published,
                     "published_high": published, "unit": "e-/s/pixel",
                     "source": _SKY_SOURCE if ref else "no shipped throughput: not compared"})
    return rows


# ----------------------------------------------------------------------------- pictures


def resolution_crops(manifest: pd.DataFrame, size: int = 400, seed: int = 0,
                     loader: Callable | None = None) -> list[dict]:
    """One chip per morphology: a full-resolution ``size x size`` crop of its preprocessed
    sample (centred on its most structured region) and the whole chip resized to 224 x 448.

    Returns:
        list of dicts ``label, morphology, body, crop (float32 size x size), resized
        (float32 224 x 448), box (row0, col0, size)`` ordered by label and morphology.
    """
    if loader is None:
        from hrcn_lib.preprocess import load_sample as loader
    out = []
    for (label, morph), group in manifest.groupby(["label", "morphology"], sort=True):
        clear = group[~group["blurry"]] if "blurry" in group.columns else group
        row = (clear if len(clear) else group).sample(1, random_state=seed).iloc[0]
        sample = loader(row["path"], int(row["hdu"]))
        # the most structured region: the highest local variance of the detail a resize
        # loses, on a 5x5 median of the sample (cosmic rays and single hot pixels removed)
        clean = cv2.medianBlur(np.clip(sample, -5, 12).astype(np.float32), 5)
        small = cv2.resize(clean, (RESIZE_SHAPE[1], RESIZE_SHAPE[0]),
                           interpolation=cv2.INTER_AREA)
        back = cv2.resize(small, (clean.shape[1], clean.shape[0]),
                          interpolation=cv2.INTER_LINEAR)
        detail = cv2.blur((clean - back) ** 2, (size // 2, size // 2))
        h = size // 2
        inner = detail[h:-h, h:-h]
        r, c = np.unravel_index(int(np.argmax(inner)), inner.shape)
        out.append({"label": label, "morphology": morph, "body": row["body"],
                    "crop": np.ascontiguousarray(sample[r:r + size, c:c + size]),
                    "resized": cv2.resize(sample, (RESIZE_SHAPE[1], RESIZE_SHAPE[0])),
                    "box": (int(r), int(c), size)})
    return out
