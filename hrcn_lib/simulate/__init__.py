"""LCID-sim: synthetic raw HST exposures (ACS/WFC, WFC3/UVIS) written in the true raw layout.

See :mod:`hrcn_lib.simulate.rawfile` for the raw-file writer.

Modules: :mod:`.bodies` (catalogue: morphologies, positions, distances, hosts),
:mod:`.context` (Galactic extinction, foreground stars, background galaxies),
:mod:`.populations` (IMF, luminosity functions, resolved vs diffuse light),
:mod:`.textures` (multi-scale fractal fields), :mod:`.scene`, :mod:`.scene_kit`,
:mod:`.scenes_galaxy`, :mod:`.scenes_nsc` (light of each body), :mod:`.psf`
(core, far halo, spikes, breathing), :mod:`.photometry` (filters and colour
tables, the paper's Eq. 1), :mod:`.exposures` (instrument/filter/date/pointing per
exposure, the blurry rule), :mod:`.cosmics` (cosmic rays), :mod:`.detector`
(response, dark, CTE, bias, raw DN), :mod:`.kernels`, :mod:`.draw_kernels` (numba passes),
:mod:`.headers` (raw header keywords), :mod:`.screening` (is the object
detectable?), :mod:`.render` (one exposure), :mod:`.dataset` (files and
manifests), :mod:`.realism` (measurements for the book).
"""

from hrcn_lib.simulate.bodies import GALAXY_TYPES, NSC_TYPES, Body, catalogue, make_body
from hrcn_lib.simulate.dataset import (
    DatasetSizes,
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
    BLURRY_SNR,
    CONDITIONS,
    Exposure,
    is_blurry,
    make_exposure,
)
from hrcn_lib.simulate.rawfile import write_raw
from hrcn_lib.simulate.screening import (
    COVER_SB,
    DETECT_SIGMA,
    EDGE_VIEW_FRACTION,
    MIN_DETECTED_FRACTION,
    MIN_OBJECT_FRACTION,
    screen_chip,
)

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
    "DatasetSizes",
    "plan",
    "render_exposure",
    "simulate_dataset",
    "simulate_file",
    "Exposure",
    "make_exposure",
    "is_blurry",
    "screen_chip",
    "CONDITIONS",
    "BLURRY_SNR",
    "COVER_SB",
    "DETECT_SIGMA",
    "EDGE_VIEW_FRACTION",
    "MIN_DETECTED_FRACTION",
    "MIN_OBJECT_FRACTION",
    "write_raw",
]
