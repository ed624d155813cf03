"""numba kernels of the simulator: the per-pixel passes that numpy would do in many sweeps.

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
    "splat_points",
    "splat_gaussians",
    "splat_sersic",
    "sample_tiles",
    "combine_diffuse",
    "add_sbf",
    "add_spikes",
    "normals",
    "block_sum",
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


# ----------------------------------------------------------------------------- drawing


@numba.njit(**_JIT)
def _splat_points(rows, cols, flux, out):  # pragma: no cover - compiled
    nr, nc = out.shape
    for i in range(rows.size):
        r0 = math.floor(rows[i])
        c0 = math.floor(cols[i])
        fr = rows[i] - r0
        fc = cols[i] - c0
        f = flux[i]
        for dr in range(2):
            rr = int(r0) + dr
            if rr < 0 or rr >= nr:
                continue
            wr = fr if dr else 1.0 - fr
            for dc in range(2):
                cc = int(c0) + dc
                if 0 <= cc < nc:
                    out[rr, cc] += f * wr * (fc if dc else 1.0 - fc)


def splat_points(out: np.ndarray, rows: np.ndarray, cols: np.ndarray, flux: np.ndarray) -> None:
    """Add point sources to ``out`` in place, each split bilinearly over its 4 nearest pixels."""
    if rows.size:
        _splat_points(rows.astype(np.float64), cols.astype(np.float64),
                      flux.astype(np.float64), out)


@numba.njit(**_JIT)
def _splat_gaussians(rows, cols, flux, sigma, out):  # pragma: no cover - compiled
    nr, nc = out.shape
    wr = np.empty(256)
    wc = np.empty(256)
    for i in range(rows.size):
        s = sigma[i]
        rad = min(int(math.ceil(3.0 * s)) + 1, 127)
        ir, ic = int(math.floor(rows[i] + 0.5)), int(math.floor(cols[i] + 0.5))
        if ir + rad < 0 or ir - rad >= nr or ic + rad < 0 or ic - rad >= nc:
            continue
        inv = 0.5 / (s * s)
        sr = 0.0
        sc = 0.0
        for k in range(2 * rad + 1):  # separable weights, each normalised
            d = ir - rad + k - rows[i]
            wr[k] = math.exp(-d * d * inv)
            sr += wr[k]
            d = ic - rad + k - cols[i]
            wc[k] = math.exp(-d * d * inv)
            sc += wc[k]
        f = flux[i] / (sr * sc)
        for k in range(2 * rad + 1):
            r = ir - rad + k
            if r < 0 or r >= nr:
                continue
            fr = f * wr[k]
            for m in range(2 * rad + 1):
                c = ic - rad + m
                if 0 <= c < nc:
                    out[r, c] += fr * wc[m]


def splat_gaussians(out: np.ndarray, rows: np.ndarray, cols: np.ndarray, flux: np.ndarray,
                    sigma: np.ndarray) -> None:
    """Add circular Gaussian blobs (sigma in pixels, flux conserved on the stamp) in place."""
    if rows.size:
        _splat_gaussians(rows.astype(np.float64), cols.astype(np.float64),
                         flux.astype(np.float64),
                         np.maximum(sigma, 0.3).astype(np.float64), out)


@numba.njit(**_JIT)
def _splat_sersic(rows, cols, flux, re, n, q, pa, floor, out):  # pragma: no cover - compiled
    nr, nc = out.shape
    buf = np.empty((401, 401))
    for i in range(rows.size):
        de_vauc = n[i] > 2.0
        bn = 7.669 if de_vauc else 1.678
        # I_e from the total flux (2 pi n q re^2 I_e e^b b^-2n Gamma(2n)), then the radius
        # where the profile falls to `floor` (e-/s per pixel): nothing fainter is drawn
        i_e = flux[i] / ((22.66 if de_vauc else 11.95) * q[i] * re[i] * re[i])
        x = 1.0 + math.log(max(i_e / floor, 1.0)) / bn
        reach = re[i] * (x * x * x * x if de_vauc else x)
        rad = int(min(max(math.ceil(reach / 0.7), 3), 200))
        ir, ic = int(math.floor(rows[i] + 0.5)), int(math.floor(cols[i] + 0.5))
        if ir + rad < 0 or ir - rad >= nr or ic + rad < 0 or ic - rad >= nc:
            continue
        ca, sa = math.cos(pa[i]), math.sin(pa[i])
        inv_re = 1.0 / re[i]
        inv_q = 1.0 / q[i]
        edge = float(rad)
        norm = 0.0
        for a in range(2 * rad + 1):
            dr = ir - rad + a - rows[i]
            for b in range(2 * rad + 1):
                dc = ic - rad + b - cols[i]
                d = math.sqrt(dr * dr + dc * dc)
                if d >= edge:
                    buf[a, b] = 0.0
                    continue
                x = dc * ca + dr * sa
                y = (dr * ca - dc * sa) * inv_q
                rr = math.sqrt(x * x + y * y + 0.09) * inv_re
                if de_vauc:
                    val = math.exp(-bn * (math.sqrt(math.sqrt(rr)) - 1.0))
                else:
                    val = math.exp(-bn * (rr - 1.0))
                if d > 0.7 * edge:  # fade out over the outer 30 % (no stamp edge)
                    val *= 0.5 * (1.0 + math.cos(math.pi * (d - 0.7 * edge) / (0.3 * edge)))
                buf[a, b] = val
                norm += val
        if norm <= 0.0:
            continue
        f = flux[i] / norm
        for a in range(2 * rad + 1):
            r = ir - rad + a
            if r < 0 or r >= nr:
                continue
            for b in range(2 * rad + 1):
                c = ic - rad + b
                if 0 <= c < nc:
                    out[r, c] += f * buf[a, b]


def splat_sersic(out: np.ndarray, rows: np.ndarray, cols: np.ndarray, flux: np.ndarray,
                 re: np.ndarray, n: np.ndarray, q: np.ndarray, pa: np.ndarray,
                 floor: float = 0.003) -> None:
    """Add elliptical Sersic galaxies (``re`` pixels, ``pa`` radians from +col; ``n`` is 1
    (disc) or 4 (de Vaucouleurs); ``flux`` in e-/s) in place. Each is drawn within a circle
    reaching where its profile falls to ``floor`` e-/s per pixel (at most 200 px), faded out
    over its outer 30 %, and normalised to its flux."""
    if rows.size:
        f64 = np.float64
        _splat_sersic(rows.astype(f64), cols.astype(f64), flux.astype(f64),
                      np.maximum(re, 0.3).astype(f64), n.astype(f64), q.astype(f64),
                      pa.astype(f64), f64(floor), out)


@numba.njit(**_JIT)
def _add_spikes(rows, cols, amp, angles, r_in, width, floor, out):  # pragma: no cover
    nr, nc = out.shape
    inv_w = 0.5 / (width * width)
    for i in range(rows.size):
        for a in range(angles.size):
            dc, dr = math.cos(angles[a]), math.sin(angles[a])
            # spike intensity amp / s^2 drops below floor at s_max
            s_max = math.sqrt(amp[i] / floor)
            s = r_in
            while s < s_max:
                rc = rows[i] + s * dr
                cc = cols[i] + s * dc
                if rc < -3 or rc > nr + 2 or cc < -3 or cc > nc + 2:
                    break
                taper = 1.0 if s > r_in + 8.0 else (s - r_in) / 8.0
                peak = amp[i] / (s * s) * taper
                # perpendicular profile, 3 pixels either side
                for k in range(-3, 4):
                    rr = int(math.floor(rc - k * dc + 0.5))
                    cx = int(math.floor(cc + k * dr + 0.5))
                    if 0 <= rr < nr and 0 <= cx < nc:
                        d2 = (rr - rc) ** 2 + (cx - cc) ** 2
                        out[rr, cx] += peak * math.exp(-d2 * inv_w)
                s += 1.0


def add_spikes(out: np.ndarray, rows: np.ndarray, cols: np.ndarray, amp: np.ndarray,
               angles: np.ndarray, r_in: float, width: float, floor: float) -> None:
    """Diffraction spikes of bright stars beyond the PSF stamp, in place.

    Along each spike the intensity falls as ``amp / s^2`` (s in pixels from the
    star), faded in over 8 pixels from ``r_in`` (where the stamp's own spikes are
    tapered off) and drawn out to the chip edge or until it drops below ``floor``
    (e- per pixel); the cross-section is Gaussian with sigma ``width`` pixels.
    """
    if rows.size:
        f64 = np.float64
        _add_spikes(rows.astype(f64), cols.astype(f64), amp.astype(f64),
                    angles.astype(f64), f64(r_in), f64(width), f64(floor), out)


# ----------------------------------------------------------------------------- textures


@numba.njit(**_JIT)
def _bilinear_row(tile, x, y, dx, dy, out_row, weight):  # pragma: no cover - compiled
    n = tile.shape[0]
    fn = float(n)
    x = x - math.floor(x / fn) * fn
    y = y - math.floor(y / fn) * fn
    dx = dx - math.floor(dx / fn) * fn  # steps below one period (the lattice is periodic)
    dy = dy - math.floor(dy / fn) * fn
    for c in range(out_row.size):
        i0 = int(x)
        j0 = int(y)
        tx = x - i0
        ty = y - j0
        i1 = i0 + 1 if i0 + 1 < n else 0
        j1 = j0 + 1 if j0 + 1 < n else 0
        out_row[c] += weight * ((tile[j0, i0] * (1.0 - tx) + tile[j0, i1] * tx) * (1.0 - ty)
                                + (tile[j1, i0] * (1.0 - tx) + tile[j1, i1] * tx) * ty)
        x += dx
        if x >= fn:
            x -= fn
        y += dy
        if y >= fn:
            y -= fn


@numba.njit(**_JIT)
def _sample_tiles(tile_a, tile_b, ma, mb, out):  # pragma: no cover - compiled
    """out[r, c] = (bilinear(tile_a, ma @ (c, r, 1)) + bilinear(tile_b, mb @ ...)) / sqrt(2)."""
    nr = out.shape[0]
    k = 1.0 / math.sqrt(2.0)
    out[:] = 0.0
    for r in range(nr):
        _bilinear_row(tile_a, ma[0, 1] * r + ma[0, 2], ma[1, 1] * r + ma[1, 2], ma[0, 0],
                      ma[1, 0], out[r], k)
        _bilinear_row(tile_b, mb[0, 1] * r + mb[0, 2], mb[1, 1] * r + mb[1, 2], mb[0, 0],
                      mb[1, 0], out[r], k)


def sample_tiles(shape: tuple[int, int], tile_a: np.ndarray, tile_b: np.ndarray,
                 ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
    """A unit-variance field on a pixel grid: the mean of two periodic tiles (incommensurate
    periods, different orientations), each sampled bilinearly through an affine map.

    Args:
        shape: output (rows, cols).
        tile_a, tile_b: float32 square periodic tiles (zero mean, unit variance).
        ma, mb: float64 (2, 3): texel (x, y) = m @ (col, row, 1).

    Returns:
        float32 ``shape``.
    """
    out = np.empty(shape, dtype=np.float32)
    _sample_tiles(tile_a, tile_b, ma.astype(np.float64), mb.astype(np.float64), out)
    return out


@numba.njit(**_JIT)
def _combine(a, b, t, cl, rim, g1, g2, sb, sd, cf, thr, w, wr, tau_cloud, hole, out):
    # pragma: no cover - compiled
    nr, nc = out.shape
    eb = -0.5 * sb * sb
    ed = -0.5 * sd * sd
    use_cloud = cl.shape[0] == nr
    use_rim = rim.shape[0] == nr
    use_t = t.shape[0] == nr
    use_b = b.shape[0] == nr
    for r in range(nr):
        for c in range(nc):
            emit = a[r, c]
            m = 0.0
            rim_v = 0.0
            if use_cloud:
                x = cl[r, c] + cf * g2[r, c]
                z = (x - thr) / w
                if z > 1.0:
                    m = 1.0
                elif z > -1.0:
                    m = 0.5 + 0.75 * z - 0.25 * z * z * z  # smoothstep on [-1, 1]
                if use_rim:
                    y = (x - thr) / wr
                    if y < 4.0 and y > -4.0:
                        rim_v = rim[r, c] * math.exp(-y * y)
            if use_b:
                emit += b[r, c] * math.exp(sb * g1[r, c] + eb) * (1.0 - hole * m)
            emit += rim_v
            tau = tau_cloud * m
            if use_t:
                tau += t[r, c] * math.exp(sd * g2[r, c] + ed)
            out[r, c] = emit * math.exp(-tau) if tau > 0.0 else emit


def combine_diffuse(a: np.ndarray, b: np.ndarray | None, t: np.ndarray | None,
                    cloud: np.ndarray | None, rim: np.ndarray | None, g1: np.ndarray,
                    g2: np.ndarray, *, sigma_b: float, sigma_d: float, cloud_fine: float = 0.0,
                    threshold: float = 0.0, width: float = 1.0, rim_width: float = 0.1,
                    tau_cloud: float = 0.0, hole: float = 0.0) -> np.ndarray:
    """Diffuse light on one grid, with the fine-scale fractal structure.

    ``out = [a + b exp(sb g1 - sb^2/2) (1 - hole M) + rim exp(-((C - thr)/wr)^2)]
    x exp(-t exp(sd g2 - sd^2/2) - tau_cloud M)``, with the cloud field
    ``C = cloud + cloud_fine g2`` and the cloud mask ``M = smoothstep((C - thr) / width)``.

    ``a`` is light without small-scale texture (old stars), ``b`` textured emission
    (young stars, ionised gas), ``t`` the dust optical depth in the exposure's filter
    (its fine structure from ``g2``), ``cloud`` the large-scale part of a cloud field
    whose level set ``thr`` outlines dark clouds (mask ``M``: opaque, ``tau_cloud``)
    with bright ionisation-front rims (``rim``) -- an irregular fractal mask, since
    the level set of a multi-scale field is a fractal curve. ``g1``/``g2`` are
    unit-variance fine fields (:func:`sample_tiles`). Arrays given as None are
    absent. All float32 of one shape; returns float32.
    """
    z = np.zeros((0, 0), np.float32)
    out = np.empty_like(a)
    _combine(a, z if b is None else b, z if t is None else t, z if cloud is None else cloud,
             z if rim is None else rim, g1, g2, float(sigma_b), float(sigma_d),
             float(cloud_fine), float(threshold), float(width), float(rim_width),
             float(tau_cloud), float(hole), out)
    return out


@numba.njit(**_JIT)
def _add_sbf(image, lbar, seed, table):  # pragma: no cover - compiled
    s0, s1 = _seed_state(seed)
    nr, nc = image.shape
    for r in range(nr):
        for c in range(nc):
            v = image[r, c]
            if v > 0.0:
                s0, s1, b = _next(s0, s1)
                v += math.sqrt(v * lbar) * _normal(b, table)
                image[r, c] = v if v > 0.0 else 0.0


def add_sbf(image: np.ndarray, lbar: float, seed: int) -> None:
    """Surface-brightness fluctuations of unresolved stars, in place (Tonry & Schneider 1988).

    A pixel holding light ``L`` (e-) from stars too faint to draw one by one
    holds a Poisson number of them, so its light fluctuates with variance
    ``L x lbar``, where ``lbar`` (e-) is the flux-weighted mean flux of those stars
    (the SBF flux). Added before the PSF, so the PSF shapes the mottling.
    """
    if lbar > 0.0:
        _add_sbf(image, np.float64(lbar), np.uint64(seed), _NORMAL_TABLE)


@numba.njit(**_JIT)
def _block_sum(image, k, out):  # pragma: no cover - compiled
    nr, nc = image.shape
    orow, ocol = out.shape
    full = min(ocol, nc // k)
    for r in range(min(nr, orow * k)):
        o = out[r // k]
        row = image[r]
        for oc in range(full):
            acc = 0.0
            base = oc * k
            for j in range(k):
                acc += row[base + j]
            o[oc] += acc
        for c in range(full * k, min(nc, ocol * k)):  # a partial last block
            o[c // k] += row[c]


def block_sum(image: np.ndarray, k: int, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Sum over ``k x k`` blocks (float32). ``shape`` (default: whole blocks only) may include
    partial blocks at the far edges."""
    if shape is None:
        shape = (image.shape[0] // k, image.shape[1] // k)
    out = np.zeros(shape, dtype=np.float32)
    _block_sum(image, int(k), out)
    return out
