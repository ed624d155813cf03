"""One HST SCI extension -> one model-ready float32 (2048, 4096) sample (paper Sec. 2.2).

Accepted input: full-frame ACS/WFC and WFC3/UVIS files, either raw (``*_raw.fits``:
SCI stored as ``BITPIX = 16``, ``BZERO = 32768``, DN, with prescan/overscan) or
calibrated (``*_flt.fits`` / ``*_flc.fits``: ``BITPIX = -32``, already trimmed
and bias-subtracted, electrons), also gzip/bzip2/zip-compressed (``*.fits.gz``) or
fpack tile-compressed (``*.fits.fz``, read through astropy). HDU 1 (``SCI,1``) or HDU 4
(``SCI,2``). All geometry comes from :mod:`hrcn_lib.instruments`.

Where to read what:

* :mod:`.recipe` -- the recipe on one page (bias per amplifier, background and noise,
  asinh stretch), to check against the paper: :func:`load_sample`, :func:`sample_from_raw`
  (the same on a uint16 chip in memory), :func:`check_input`, :func:`amp_biases` and the
  recipe's constants.
* :mod:`.frame` -- a (file, HDU) validated from its headers (:func:`read_header_info`),
  the crop (:func:`extract_science`), memory-mapped pixel access.
* :mod:`.fitsheader` -- the fast strict FITS header scan, astropy as the fallback;
  :class:`PreprocessError`.
* :mod:`.chip` -- the two pixel representations the recipe runs on (16-bit words by table
  lookup; float32 arithmetic); :mod:`.kernels` -- the numba pass; :mod:`.statistics` --
  clipped means; :mod:`.preview` -- PNG previews; :mod:`.resize` -- LCID-Resize's
  ``cv2.resize`` (not imported here: OpenCV only where a sample is resized).

Bad input raises :class:`PreprocessError` (a ``ValueError``) naming the file, the HDU and
what was expected. Speed: ~9 ms per raw HDU on a 2-core AVX2 CPU (``benchmarks/README.md``):
headers are scanned without astropy, the pixels are never copied before the one pass that
writes the sample, the statistics read ~1 % of them.
"""

from hrcn_lib.preprocess.fitsheader import PreprocessError
from hrcn_lib.preprocess.frame import HeaderInfo, extract_science, read_header_info
from hrcn_lib.preprocess.kernels import warm_up
from hrcn_lib.preprocess.preview import preview_image
from hrcn_lib.preprocess.recipe import (
    MIN_STAT_PIXELS,
    NOISE_FLOOR,
    RECIPE_VERSION,
    STRETCH,
    SUBSAMPLE_STEP,
    amp_biases,
    check_input,
    load_sample,
    sample_from_raw,
)

__all__ = [
    "PreprocessError",
    "HeaderInfo",
    "read_header_info",
    "check_input",
    "extract_science",
    "load_sample",
    "sample_from_raw",
    "amp_biases",
    "preview_image",
    "warm_up",
    "RECIPE_VERSION",
    "STRETCH",
    "NOISE_FLOOR",
    "SUBSAMPLE_STEP",
    "MIN_STAT_PIXELS",
]
