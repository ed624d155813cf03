"""numba kernels of the simulator's detector: the per-pixel passes that numpy would do in many
sweeps (photon noise, charge transfer, bleeding, raw conversion) and the random numbers they
and :mod:`.draw_kernels` use.

Each kernel is single-threaded and deterministic: random numbers come from a
xoroshiro128+ stream seeded (through splitmix64) by an integer the caller draws
from the exposure's ``numpy.random.Generator``, so the same seed gives the same
bytes on every run. Gaussian deviates use Acklam's rational approximation of the
inverse normal CDF (relative error < 1.2e-9) on 53-bit uniforms; Poisson deviates
are exact (inversion) below :data:`POISSON_EXACT_BELOW` e- and Gaussian
``N(lambda, lambda)`` above: the variance is exact and the missing skewness
(``lambda^-1/2`` of the Poisson part) is diluted by the read noise, 3-5 e- rms, to
under 0.1 in the recorded pixel values. Why hand-written: numpy's generators
cost 9-40 ns per deviate and need a full-frame temporary per step; these
kernels fuse photon noise, the detector response and the raw conversion into one
pass each (about 3-5 ns per pixel).

Array conventions: images are C-contiguous float32 ``(rows, cols)`` in
electrons unless a kernel says otherwise; raw arrays are uint16 DN.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "POISSON_EXACT_BELOW",
    "photon_noise",
    "to_raw",
    "cte_trails",
    "bleed_columns",
    "normals",
]

#: Mean (e-) below which Poisson noise is drawn exactly.
POISSON_EXACT_BELOW = 5.0

_JIT = {"cache": True, "nogil": True}


# ----------------------------------------------------------------------------- random numbers


@numba.njit(**_JIT)
def _splitmix(x):  # pragma: no cover - compiled
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = x
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return x, z ^ (z >> np.uint64(31))


@numba.njit(**_JIT)
def _seed_state(seed):  # pragma: no cover - compiled
    x = np.uint64(seed)
    x, s0 = _splitmix(x)
    x, s1 = _splitmix(x)
    if s0 == 0 and s1 == 0:
        s1 = np.uint64(1)
    return s0, s1


@numba.njit(**_JIT)
def _next(s0, s1):  # pragma: no cover - compiled
    """xoroshiro128+ step: returns (new s0, new s1, 64 random bits)."""
    result = (s0 + s1) & np.uint64(0xFFFFFFFFFFFFFFFF)
    s1 ^= s0
    s0 = ((s0 << np.uint64(24)) | (s0 >> np.uint64(40))) ^ s1 ^ (s1 << np.uint64(16))
    s0 &= np.uint64(0xFFFFFFFFFFFFFFFF)
    s1 = ((s1 << np.uint64(37)) | (s1 >> np.uint64(27))) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return s0, s1, result


@numba.njit(**_JIT)
def _uniform(bits):  # pragma: no cover - compiled
    """53-bit uniform in (0, 1) from 64 random bits."""
    return (float(bits >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@numba.njit(**_JIT)
def _inv_normal(p):  # pragma: no cover - compiled
    """Acklam's inverse standard-normal CDF (p in (0, 1))."""
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        return (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838)
                  * q - 2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783) / (
            (((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996) * q
             + 3.754408661907416) * q + 1.0)
    if p > 0.97575:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        return -(((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838)
                   * q - 2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783) / (
            (((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996) * q
             + 3.754408661907416) * q + 1.0)
    q = p - 0.5
    r = q * q
    return (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02)
              * r + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239) \
        * q / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r
                  - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r
                - 1.328068155288572e+01) * r + 1.0)


_NT = 4096


@numba.njit(cache=True)
def _make_normal_table():  # pragma: no cover - compiled
    t = np.empty(_NT + 1, dtype=np.float64)
    for k in range(1, _NT):
        t[k] = _inv_normal(k / _NT)
    t[0] = t[1]
    t[_NT] = t[_NT - 1]
    return t


_NORMAL_TABLE = _make_normal_table()


@numba.njit(**_JIT)
def _normal(bits, table):  # pragma: no cover - compiled
    """Standard-normal deviate: inverse CDF, tabulated with linear interpolation inside
    [1/4096, 1 - 1/4096] (99.95 % of draws), Acklam's formula in the tails."""
    u = _uniform(bits)
    x = u * _NT
    k = int(x)
    if 1 <= k < _NT - 1:
        f = x - k
        return table[k] + f * (table[k + 1] - table[k])
    return _inv_normal(u)


@numba.njit(**_JIT)
def _fill_normals(out, seed, table):  # pragma: no cover - compiled
    s0, s1 = _seed_state(seed)
    flat = out.ravel()
    for i in range(flat.size):
        s0, s1, b = _next(s0, s1)
        flat[i] = _normal(b, table)


def normals(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """float32 standard-normal deviates of ``shape`` from the kernels' generator (for tests)."""
    out = np.empty(shape, dtype=np.float32)
    _fill_normals(out, np.uint64(seed), _NORMAL_TABLE)
    return out


# ----------------------------------------------------------------------------- photon noise


_EXP_STEP = 10.0 / 4096


@numba.njit(cache=True)
def _make_exp_table():  # pragma: no cover - compiled
    t = np.empty(4098, dtype=np.float64)
    for k in range(4098):
        t[k] = math.exp(-k * _EXP_STEP)
    return t


_EXP_TABLE = _make_exp_table()
_INV_K = np.array([0.0] + [1.0 / k for k in range(1, 64)])


@numba.njit(**_JIT)
def _poisson_small(lam, u, exp_table, inv_k):  # pragma: no cover - compiled
    """Exact-inversion Poisson deviate for lam < 10 (exp(-lam) tabulated, relative
    error < 1e-6); used below POISSON_EXACT_BELOW."""
    x = lam * (1.0 / _EXP_STEP)
    i = int(x)
    f = x - i
    p = exp_table[i] + f * (exp_table[i + 1] - exp_table[i])
    cdf = p
    k = 0
    while u > cdf and k < 62:
        k += 1
        p *= lam * inv_k[k]
        cdf += p
    return k


@numba.njit(**_JIT)
def _photon_noise(signal, response, sky_e, dark_e, seed, out, table, exp_table, inv_k):
    # pragma: no cover - compiled
    s0, s1 = _seed_state(seed)
    nr, nc = signal.shape
    for r in range(nr):
        for c in range(nc):
            lam = (signal[r, c] + sky_e) * response[r, c] + dark_e
            if lam <= 0.0:
                out[r, c] = 0.0
                continue
            s0, s1, b = _next(s0, s1)
            if lam < 5.0:
                out[r, c] = _poisson_small(lam, _uniform(b), exp_table, inv_k)
            else:
                out[r, c] = lam + math.sqrt(lam) * _normal(b, table)


def photon_noise(signal: np.ndarray, response: np.ndarray, sky_e: float, dark_e: float,
                 seed: int) -> np.ndarray:
    """Detected electrons: Poisson((signal + sky) x response + dark).

    Args:
        signal: float32 (rows, cols) object signal (e-, PSF-convolved, before the flat).
        response: float32 same shape: pixel-area map x flat field (the raw data are
            not flat-fielded, so the sky and the object carry its imprint).
        sky_e, dark_e: e- per pixel of sky (before the response) and dark current.
        seed: random seed.

    Returns:
        float32 electrons, same shape.
    """
    out = np.empty_like(signal)
    _photon_noise(signal, response, np.float32(sky_e), np.float32(dark_e), np.uint64(seed), out,
                  _NORMAL_TABLE, _EXP_TABLE, _INV_K)
    return out


# ----------------------------------------------------------------------------- raw conversion


@numba.njit(**_JIT)
def _to_raw(science, sci_r0, amp_c0, amp_c1, amp_s0, amp_s1, amp_k0, gain, rn, bias,
            first_col, step, decay_amp, decay_len, col_bias, stripe, virt, virt_r0,
            serial_trail, seed, raw, table):  # pragma: no cover - compiled
    s0, s1 = _seed_state(seed)
    nrow, ncol = raw.shape
    nsci = science.shape[0]
    nvirt = virt.shape[0]
    for a in range(amp_c0.size):
        g = 1.0 / gain[a]
        sig = rn[a] * g
        ncols = amp_c1[a] - amp_c0[a]
        for r in range(nrow):
            base = bias[a] + stripe[r] * g
            sr = r - sci_r0
            vr = r - virt_r0
            last = 0.0
            for k in range(ncols):  # serial read order, from the amplifier outwards
                c = first_col[a] + k * step[a]
                v = base + col_bias[c]
                if k < decay_len[a] * 8:
                    v += decay_amp[a] * math.exp(-k / decay_len[a])
                in_sci = amp_s0[a] <= c < amp_s1[a]
                if in_sci and 0 <= sr < nsci:
                    e = science[sr, amp_k0[a] + c - amp_s0[a]]
                    v += e * g
                    last = e
                elif in_sci and 0 <= vr < nvirt:
                    v += virt[vr, amp_k0[a] + c - amp_s0[a]] * g
                elif not in_sci and last != 0.0 and serial_trail > 0.0:
                    # serial CTE: charge of the last science pixel read trails into the
                    # first overscan columns read after it
                    v += last * serial_trail * g
                    last *= 0.3
                    if last < 0.5 and last > -0.5:
                        last = 0.0
                s0, s1, b = _next(s0, s1)
                v += sig * _normal(b, table)
                v = math.floor(v + 0.5)
                if v < 0.0:
                    v = 0.0
                elif v > 65535.0:
                    v = 65535.0
                raw[r, c] = np.uint16(v)


def to_raw(science: np.ndarray, raw_shape: tuple[int, int], sci_r0: int, amps: dict,
           col_bias: np.ndarray, stripe: np.ndarray, virt: np.ndarray, virt_r0: int,
           serial_trail: float, seed: int) -> np.ndarray:
    """Electrons on the science area -> one chip's raw uint16 DN array.

    Args:
        science: float32 (science rows, 4096) e- in raw orientation.
        raw_shape: the chip's raw shape.
        sci_r0: first raw row of the science area.
        amps: per-amplifier int/float arrays (index = amp order left, right):
            ``c0, c1`` raw columns read, ``s0, s1`` raw science columns, ``k0`` first
            column in ``science``, ``gain`` (e-/DN), ``rn`` (e-), ``bias`` (DN),
            ``first`` (raw column read first) and ``step`` (+1/-1, serial direction),
            ``decay_amp`` (DN) / ``decay_len`` (columns): the start-of-line transient
            of the first columns read.
        col_bias: float32 (raw cols,) DN, fixed column structure of the bias.
        stripe: float32 (raw rows,) e-, row-correlated bias noise (ACS striping).
        virt: float32 (n, 4096) e- trailed by CTE into the parallel virtual overscan rows.
        virt_r0: raw row of ``virt[0]``.
        serial_trail: fraction of the last science pixel's charge in the first overscan
            column read after it (serial CTE).
        seed: random seed (read noise).

    Returns:
        uint16 ``raw_shape``: bias + structure + e-/gain + read noise, rounded and clipped.
    """
    raw = np.empty(raw_shape, dtype=np.uint16)
    _to_raw(science, sci_r0, amps["c0"], amps["c1"], amps["s0"], amps["s1"], amps["k0"],
            amps["gain"], amps["rn"], amps["bias"], amps["first"], amps["step"],
            amps["decay_amp"], amps["decay_len"], col_bias, stripe, virt, virt_r0,
            np.float64(serial_trail), np.uint64(seed), raw, _NORMAL_TABLE)
    return raw


# ----------------------------------------------------------------------------- CTE


_CAP_STEP = 0.05  # tabulation step of the capture fraction, in units of q_c


@numba.njit(cache=True)
def _make_capture_table():  # pragma: no cover - compiled
    t = np.empty(402, dtype=np.float64)
    for k in range(402):
        t[k] = 1.0 - math.exp(-math.sqrt(k * _CAP_STEP))
    return t


_CAPTURE = _make_capture_table()


@numba.njit(**_JIT)
def _cte(image, first_row, step, dist0, density, q_c, release, virt, table):
    # pragma: no cover - compiled
    nr, nc = image.shape
    p_rel = 1.0 - math.exp(-1.0 / release)
    inv = 1.0 / (q_c * _CAP_STEP)
    nv = virt.shape[0]
    held = np.zeros(nc)
    for k in range(nr):  # rows in readout order; all columns advance together
        r = first_row + k * step
        capacity = density * (dist0 + k)
        for c in range(nc):
            h = held[c]
            rel = h * p_rel
            q = image[r, c] + rel
            h -= rel
            empty = capacity - h
            if empty > 0.0 and q > 0.0:
                x = q * inv
                if x >= 400.0:
                    frac = table[400]
                else:
                    i = int(x)
                    frac = table[i] + (x - i) * (table[i + 1] - table[i])
                cap = empty * frac
                if cap > q:
                    cap = q
                q -= cap
                h += cap
            image[r, c] = q
            held[c] = h
    for k in range(nv):  # what is still held trails into the virtual overscan rows
        for c in range(nc):
            rel = held[c] * p_rel
            virt[k, c] += rel
            held[c] -= rel


def cte_trails(image: np.ndarray, readout_first_row: int, step: int, dist0: int,
               density: float, q_c: float, release: float, n_virtual: int) -> np.ndarray:
    """Parallel charge-transfer inefficiency, in place: charge captured by traps trails away
    from the serial register.

    A simple trap model, column by column in readout order: the packet of a pixel
    ``d`` transfers from the register meets ``density x d`` e- of trap capacity; it
    fills a fraction ``1 - exp(-sqrt(q / q_c))`` of the empty traps (bigger packets
    fill more); trapped charge is released with an exponential delay of ``release``
    transfers into the packets read after it. A bright sky keeps the traps full, so
    faint sources lose little (the effect post-flash relies on); on a dark sky faint
    sources lose tens of per cent far from the register.

    Args:
        image: float32 (science rows, cols) e-, modified in place.
        readout_first_row: row read first (next to the register).
        step: +1 if rows are read in increasing order, -1 otherwise.
        dist0: transfers of the first row read.
        density: trap capacity per transfer (e-).
        q_c: packet size (e-) at which a packet fills 63 % of the empty traps.
        release: mean release delay (transfers).
        n_virtual: parallel virtual overscan rows read after the last science row.

    Returns:
        float32 (n_virtual, cols): charge trailed into the virtual overscan rows (in
        read order, the row read first at index 0).
    """
    virt = np.zeros((n_virtual, image.shape[1]), dtype=np.float32)
    _cte(image, readout_first_row, step, float(dist0), float(density), float(q_c),
         float(release), virt, _CAPTURE)
    return virt


# ----------------------------------------------------------------------------- saturation


@numba.njit(**_JIT)
def _bleed(image, full_well, columns):  # pragma: no cover - compiled
    nr = image.shape[0]
    for c in columns:
        r = 0
        while r < nr:
            if image[r, c] <= full_well:
                r += 1
                continue
            start = r
            excess = 0.0
            while r < nr and image[r, c] > full_well:
                excess += image[r, c] - full_well
                image[r, c] = full_well
                r += 1
            stop = r
            for direction in (-1, 1):
                left = excess * 0.5
                pos = start - 1 if direction < 0 else stop
                while left > 0.0 and 0 <= pos < nr:
                    room = full_well - image[pos, c]
                    if room > 0.0:
                        take = room if room < left else left
                        image[pos, c] += take
                        left -= take
                    pos += direction
            r = stop


def bleed_columns(image: np.ndarray, full_well: float) -> int:
    """Saturate at ``full_well`` and bleed each run's excess charge up and down its column
    (in place). Returns the number of columns that saturated."""
    over = image > np.float32(full_well)
    columns = np.flatnonzero(over.any(axis=0))
    if columns.size:
        _bleed(image, np.float32(full_well), columns.astype(np.int64))
    return int(columns.size)
