"""numba kernels that draw the scene: point sources, Gaussian blobs, Sersic galaxies,
diffraction spikes, the fine fractal fields and their combination with the smooth light,
surface-brightness fluctuations, block sums. Deterministic and single-threaded, like
:mod:`.kernels` (whose random-number generator :func:`add_sbf` uses).

Array conventions: images are C-contiguous float32 ``(rows, cols)``; positions are
(row, col) pixel coordinates of the image.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from hrcn_lib.simulate.kernels import _JIT, _NORMAL_TABLE, _next, _normal, _seed_state

__all__ = [
    "splat_points",
    "splat_gaussians",
    "splat_sersic",
    "add_spikes",
    "sample_tiles",
    "combine_diffuse",
    "add_sbf",
    "block_sum",
]


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
