"""LCID-sim: synthetic raw HST exposures (ACS/WFC, WFC3/UVIS) written in the true raw layout.

See :mod:`hrcn_lib.simulate.rawfile` for the raw-file writer.

Modules: :mod:`.bodies` (catalogue and morphology parameters), :mod:`.scene`,
:mod:`.scenes_galaxy`, :mod:`.scenes_nsc` (light of each body),
:mod:`.photometry` (filters and colour tables, the paper's Eq. 1),
:mod:`.exposures` (instrument/filter/pointing per exposure, screening and blurry
rules), :mod:`.detector` (PSF, noise, defects, raw DN), :mod:`.dataset`
(files and manifests).
"""

from hrcn_lib.simulate.bodies import GALAXY_TYPES, NSC_TYPES, Body, catalogue, make_body
from hrcn_lib.simulate.dataset import (
    SimResult,
    SimulationError,
    estimate_disk,
    file_bytes,
    plan,
    render_exposure,
    simulate_dataset,
    simulate_file,
)
from hrcn_lib.simulate.exposures import (
    BLURRY_FWHM,
    BLURRY_SNR,
    COVER_SB,
    EDGE_VIEW_FRACTION,
    MIN_OBJECT_FRACTION,
    Exposure,
    is_blurry,
    is_selected,
    make_exposure,
)
from hrcn_lib.simulate.rawfile import write_raw

__all__ = [
    "Body",
    "GALAXY_TYPES",
    "NSC_TYPES",
    "catalogue",
    "make_body",
    "SimResult",
    "SimulationError",
    "estimate_disk",
    "file_bytes",
    "plan",
    "render_exposure",
    "simulate_dataset",
    "simulate_file",
    "Exposure",
    "make_exposure",
    "is_blurry",
    "is_selected",
    "BLURRY_FWHM",
    "BLURRY_SNR",
    "COVER_SB",
    "EDGE_VIEW_FRACTION",
    "MIN_OBJECT_FRACTION",
    "write_raw",
]
