"""Rotation-based iterative Gaussianisation (RBIG, Laparra et al. 2011) with an exact density.

Each layer :math:`l` maps :math:`x \\mapsto R_l\\, G_l(x)`: :math:`G_l` Gaussianises every
coordinate through a smooth marginal CDF, :math:`R_l` is a random rotation.  The marginal
CDF of coordinate :math:`j` is a Gaussian-kernel mixture on :math:`m` (weighted) quantiles
:math:`c_i` of the layer's input at levels :math:`\\Phi(u_i)`, :math:`u_i` evenly spaced on
:math:`[-a, a]`, each kernel carrying the probability :math:`p_i` between the neighbouring
mid-levels (small in the tails).  Bandwidths are :math:`h_i = \\max(h, \\kappa\\,\\Delta_i)`:
Silverman's :math:`h` on the effective sample size, or :math:`\\kappa` times the local
spacing :math:`\\Delta_i` of the centres where that is wider; the two outermost kernels
get at least ``tail_factor`` times the coordinate's standard deviation :math:`\\sigma`, and a
guard kernel at the coordinate's mean :math:`\\mu` with width :math:`\\sigma` carries the
probability ``guard_weight`` :math:`\\varepsilon` (the others :math:`(1 - \\varepsilon)\\,p_i`).
Without the guard, far out :math:`g(x) \\approx (x - c)/h` with the tail kernel's
:math:`h = 0.5\\sigma`: twice the bulk's slope, so every layer stretches an outlier twice as
much as the data and over :math:`L` layers log q falls off like :math:`-4^L \\lVert x\\rVert^2`
(log q = -2e33 at a corner of the gmm2d_3mode prior box, 60 layers).  With it,
:math:`F(x) \\ge \\varepsilon\\,\\Phi((x - \\mu)/\\sigma)`, so :math:`|g(x)| \\le |x - \\mu|/\\sigma +
\\sqrt{2\\log(1/\\varepsilon)}` in the tails: an outlier grows by at most a constant per layer
(log q >= -2.3e3 over 100 000 draws of that box), at a cost of at most
:math:`-\\log(1 - \\varepsilon)` nats per marginal in the bulk:

.. math::  F(x) = \\sum_i p_i\\, \\Phi\\Big(\\frac{x - c_i}{h_i}\\Big), \\qquad
           g(x) = \\Phi^{-1}(F(x)), \\qquad
           \\log g'(x) = \\log F'(x) - \\log\\varphi(g(x)),

smooth, strictly increasing and with Gaussian tails, so every layer is invertible with
an exact log-Jacobian, and

.. math::  \\log q(x) = \\log\\mathcal N(z_L; 0, I) + \\sum_{l,j} \\log g_{l,j}'(\\cdot).

Each marginal is evaluated through a cubic Hermite table of :math:`g` and :math:`\\log g'`
(:class:`_MarginalTable`, built once per marginal) wherever its measured error is within
1e-10 and 1e-9, and by the kernel sums elsewhere.

``fit`` adds layers while the weighted NLL of a held-out split improves and keeps the
best number (at most ``max_layers``; stop after ``patience`` layers without gain).  Each
split keeps only its heaviest points that carry :math:`1 - 10^{-6}` of its weight
(:func:`lwflow.weighted_draws.heaviest_share`): with likelihood weights on prior draws most points
weigh almost nothing, and every layer transforms every kept point.

Example::

    >>> x = np.random.default_rng(0).gamma(2.0, size=(1000, 2))
    >>> model, layers = RBIG.fit(x, weights=np.ones(len(x)), seed=0)
    >>> model.log_prob(x[:5]).shape, model.sample(100, seed=1).shape
    ((5,), (100, 2))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import log_ndtr, logsumexp, ndtr, ndtri, ndtri_exp

from lwflow.settings import RBIGConfig
from lwflow.weighted_draws import heaviest_share

_LOG_SQRT_2PI = 0.5 * float(np.log(2 * np.pi))
_SQRT_HALF = 0.5**0.5
_EXP_FLOOR = -700.0  # exp() of less is subnormal (slow) and far below what the density resolves
_BLOCK_ROWS = 1024  # rows of the (points, kernels) matrices evaluated at once
_GRID = 4096  # evenly spaced nodes at which each marginal is tabulated
_VALUE_TOLERANCE = 1e-10  # |g| error the forward and inverse tables may make
_LOG_SLOPE_TOLERANCE = 1e-9  # |log g'| error the forward table may make


def _hermite_coefficients(value: np.ndarray, slope: np.ndarray) -> np.ndarray:
    r"""Per interval ``(n - 1, 4)``: the cubic :math:`a_0 + a_1\tau + a_2\tau^2 + a_3\tau^3`,
    :math:`\tau \in [0, 1]`, through the end values with end slopes ``slope`` (per unit of
    :math:`\tau`)."""
    y0, y1, m0, m1 = value[:-1], value[1:], slope[:-1], slope[1:]
    return np.column_stack([y0, m0, 3 * (y1 - y0) - 2 * m0 - m1, 2 * (y0 - y1) + m0 + m1])


def _horner(coefficients: np.ndarray, tau: np.ndarray | float) -> np.ndarray:
    a0, a1, a2, a3 = coefficients.T
    return a0 + tau * (a1 + tau * (a2 + tau * a3))


@dataclass(frozen=True)
class _MarginalTable:
    r"""One marginal :math:`g` tabulated exactly on evenly spaced nodes and their midpoints.

    The forward interpolants are cubic Hermite in :math:`x` through :math:`g` (slopes
    :math:`g'`) and through :math:`\log g'` (slopes :math:`(\log g')' = F''/F' + g\,g'`).
    Their error is measured at every midpoint, where a cubic Hermite interpolant errs most;
    ``exact_enough`` marks the intervals where it is within :data:`_VALUE_TOLERANCE` and
    :data:`_LOG_SLOPE_TOLERANCE`.  The inverse (:meth:`RBIG._marginal_inverse`) reads the same
    nodes and midpoints.
    """

    nodes: np.ndarray  # (G,)
    value: np.ndarray  # g(nodes)
    log_slope: np.ndarray  # log g'(nodes)
    mid_value: np.ndarray  # g at the G - 1 midpoints
    mid_log_slope: np.ndarray
    value_coefficients: np.ndarray  # (G - 1, 4)
    log_slope_coefficients: np.ndarray  # (G - 1, 4)
    exact_enough: np.ndarray  # (G - 1,) bool

    @property
    def spacing(self) -> float:
        return float(self.nodes[1] - self.nodes[0])

    @property
    def midpoints(self) -> np.ndarray:
        return 0.5 * (self.nodes[1:] + self.nodes[:-1])


def _log_pdf_slope(x: np.ndarray, centres: np.ndarray, h: np.ndarray, log_p: np.ndarray) -> np.ndarray:
    r""":math:`F''(x)/F'(x)`.  With :math:`t_i = -(x - c_i)/(\sqrt2 h_i)` as in :meth:`RBIG._marginal`,
    :math:`F' \propto \sum_i (p_i/h_i)\, e^{-t_i^2}` and :math:`F'' \propto \sum_i (p_i/h_i)
    (\sqrt2\, t_i/h_i)\, e^{-t_i^2}`.  NaN where every kernel underflows."""
    p = np.exp(log_p)
    t = (torch.from_numpy(x[:, None]) - torch.from_numpy(centres)).mul_(torch.from_numpy(-_SQRT_HALF / h))
    kernel = t.square().neg_().clamp_(min=_EXP_FLOOR).exp_()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (t.mul_(kernel) @ torch.from_numpy(2**0.5 * p / h**2)).numpy() / (
            kernel @ torch.from_numpy(p / h)
        ).numpy()


def _weighted_quantiles(x: np.ndarray, weights: np.ndarray, levels: np.ndarray) -> np.ndarray:
    order = np.argsort(x)
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    return x[order][np.clip(np.searchsorted(cumulative, levels), 0, len(x) - 1)]


class RBIG:
    """A fitted RBIG model: per layer, kernel centres, bandwidths and log-weights ``(d, m)``
    and a rotation ``(d, d)``."""

    def __init__(
        self, centres: np.ndarray, bandwidths: np.ndarray, log_weights: np.ndarray, rotations: np.ndarray
    ) -> None:
        self.centres = np.asarray(centres, dtype=float)  # (L, d, m)
        self.bandwidths = np.asarray(bandwidths, dtype=float)  # (L, d, m)
        self.log_weights = np.asarray(log_weights, dtype=float)  # (L, d, m)
        self.rotations = np.asarray(rotations, dtype=float)  # (L, d, d)
        self._tables: dict[tuple[int, int], _MarginalTable] = {}

    @property
    def dim(self) -> int:
        return int(self.centres.shape[1])

    @property
    def n_layers(self) -> int:
        return len(self.centres)

    @staticmethod
    def _marginal(
        x: np.ndarray, centres: np.ndarray, h: np.ndarray, log_p: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gaussianised values :math:`g(x)` and log-derivatives :math:`\\log g'(x)` of one coordinate.

        With :math:`t_i = -(x - c_i) / (\\sqrt2 h_i)`, :math:`\\Phi((x - c_i)/h_i) = \\tfrac12
        \\operatorname{erfc}(t_i)` and the kernel is :math:`e^{-t_i^2}`: torch evaluates both on
        blocks of rows that stay in cache (several times faster than ``scipy.special.ndtr``,
        the same to 1e-12 relative)."""
        scale = torch.from_numpy(-_SQRT_HALF / h)
        half_p, p_over_h = torch.from_numpy(0.5 * np.exp(log_p)), torch.from_numpy(np.exp(log_p) / h)
        cdf, pdf = np.empty(len(x)), np.empty(len(x))
        for start in range(0, len(x), _BLOCK_ROWS):
            t = (torch.from_numpy(x[start : start + _BLOCK_ROWS, None]) - torch.from_numpy(centres)).mul_(scale)
            cdf[start : start + _BLOCK_ROWS] = (torch.special.erfc(t) @ half_p).numpy()
            pdf[start : start + _BLOCK_ROWS] = (t.square_().neg_().clamp_(min=_EXP_FLOOR).exp_() @ p_over_h).numpy()
        z = ndtri(cdf)
        tail = (cdf < 1e-12) | (cdf > 1 - 1e-6)  # Phi^-1 on the log scale where 1 - cdf loses digits
        if tail.any():
            st = (x[tail, None] - centres) / h
            log_cdf = logsumexp(log_p + log_ndtr(st), axis=1)
            log_sf = logsumexp(log_p + log_ndtr(-st), axis=1)
            z[tail] = np.where(
                log_cdf < log_sf, ndtri_exp(np.minimum(log_cdf, -1e-300)), -ndtri_exp(np.minimum(log_sf, -1e-300))
            )
        with np.errstate(divide="ignore"):
            log_pdf = np.log(pdf)  # the 1/sqrt(2 pi) of F' and of phi(g) cancel
        far = pdf < 1e-280  # every kernel underflows: the log-sum-exp of the exponents instead
        if far.any():
            log_pdf[far] = logsumexp(log_p - 0.5 * ((x[far, None] - centres) / h) ** 2 - np.log(h), axis=1)
        return z, log_pdf + 0.5 * z**2

    def _table(self, layer: int, j: int) -> _MarginalTable:
        """The marginal's table (:class:`_MarginalTable`), built on first use and kept."""
        if (layer, j) not in self._tables:
            centres, h, log_p = self._kernels(layer, j)
            low, high = centres.argmin(), centres.argmax()  # the outermost kernels, not the guard
            nodes = np.linspace(centres[low] - 4 * h[low], centres[high] + 4 * h[high], _GRID)
            value, log_slope = self._marginal(nodes, centres, h, log_p)
            spacing = nodes[1] - nodes[0]
            mid_value, mid_log_slope = self._marginal(nodes[:-1] + 0.5 * spacing, centres, h, log_p)
            log_slope_derivative = _log_pdf_slope(nodes, centres, h, log_p) + value * np.exp(log_slope)
            value_coefficients = _hermite_coefficients(value, np.exp(log_slope) * spacing)
            log_slope_coefficients = _hermite_coefficients(log_slope, log_slope_derivative * spacing)
            with np.errstate(invalid="ignore", over="ignore"):  # a NaN error fails the test below
                exact_enough = (np.abs(_horner(value_coefficients, 0.5) - mid_value) <= _VALUE_TOLERANCE) & (
                    np.abs(_horner(log_slope_coefficients, 0.5) - mid_log_slope) <= _LOG_SLOPE_TOLERANCE
                )
            self._tables[layer, j] = _MarginalTable(
                nodes,
                value,
                log_slope,
                mid_value,
                mid_log_slope,
                value_coefficients,
                log_slope_coefficients,
                exact_enough,
            )
        return self._tables[layer, j]

    def _marginal_forward(self, x: np.ndarray, layer: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`g(x)` and :math:`\log g'(x)` from the table's interpolants where they meet their
        tolerance, by :meth:`_marginal` elsewhere (beyond the table, or in an interval that failed
        its midpoint test).  The cost of the table is paid once per marginal, not per point."""
        table = self._table(layer, j)
        position = (x - table.nodes[0]) / table.spacing
        n_intervals = len(table.exact_enough)
        interval = np.clip(np.nan_to_num(np.floor(position)), 0, n_intervals - 1).astype(int)  # NaN: exact path
        tau = position - interval
        exact = ~((position >= 0) & (position <= n_intervals) & table.exact_enough[interval])
        z = _horner(table.value_coefficients[interval], tau)
        log_slope = _horner(table.log_slope_coefficients[interval], tau)
        if exact.any():
            z[exact], log_slope[exact] = self._marginal(x[exact], *self._kernels(layer, j))
        return z, log_slope

    def _layer_forward(self, layer: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z, log_det = np.empty_like(x), np.zeros(len(x))
        for j in range(x.shape[1]):
            z[:, j], ld = self._marginal_forward(x[:, j], layer, j)
            log_det += ld
        return z @ self.rotations[layer].T, log_det

    def _kernels(self, layer: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.centres[layer, j], self.bandwidths[layer, j], self.log_weights[layer, j]

    def _marginal_inverse(
        self, z: np.ndarray, layer: int, j: int, newton_steps: int = 8, tolerance: float = 1e-10
    ) -> np.ndarray:
        """Solve :math:`g(x) = z` to :math:`|g(x) - z| \\le` ``tolerance``.

        :math:`g` is tabulated on a grid :math:`x_k` with its slopes, and :math:`x(z)` is the
        cubic Hermite interpolant through :math:`(g(x_k), x_k)` with derivatives
        :math:`1/g'(x_k)`.  Its error is measured at every interval's midpoint
        :math:`\\bar x_k`, as :math:`|x(g(\\bar x_k)) - \\bar x_k|\\, g'(\\bar x_k)`; points in
        intervals where that exceeds ``tolerance``, or outside the table, get safeguarded
        Newton steps.  The grid and its midpoints are the forward's (:meth:`_table`)."""
        from scipy.interpolate import CubicHermiteSpline  # here, not at the top: 0.3 s that only sampling needs

        centres, h, log_p = self._kernels(layer, j)
        tabulated = self._table(layer, j)
        value = tabulated.value
        kept = np.flatnonzero(value > np.maximum.accumulate(np.concatenate([[-np.inf], value[:-1]])))
        nodes, table, log_slope = tabulated.nodes[kept], value[kept], tabulated.log_slope[kept]
        inverse = CubicHermiteSpline(table, nodes, np.exp(-log_slope), extrapolate=False)
        with np.errstate(invalid="ignore", over="ignore"):
            midpoint_error = np.abs(inverse(tabulated.mid_value) - tabulated.midpoints) * np.exp(
                tabulated.mid_log_slope
            )
        # an interval between kept nodes spans one grid interval or (where g was flat) several:
        # its error is the worst of their midpoints' (NaN, outside the interpolant, propagates)
        interval_error = np.maximum.reduceat(midpoint_error[: kept[-1]], kept[:-1])
        x = inverse(z)
        interval = np.clip(np.searchsorted(table, z) - 1, 0, len(interval_error) - 1)
        unchecked = ~np.isfinite(x) | ~(interval_error[interval] <= tolerance)
        end = np.where(z[unchecked] < table[0], 0, -1)  # beyond the table: the end's tangent
        x[unchecked] = np.where(
            (z[unchecked] < table[0]) | (z[unchecked] > table[-1]),
            nodes[end] + (z[unchecked] - table[end]) * np.exp(-log_slope[end]),
            np.interp(z[unchecked], table, nodes),
        )
        active = np.flatnonzero(unchecked)
        for _ in range(newton_steps):
            if not len(active):
                break
            value, log_slope = self._marginal(x[active], centres, h, log_p)
            residual = value - z[active]
            open_ = np.abs(residual) > tolerance
            active, residual, log_slope = active[open_], residual[open_], log_slope[open_]
            x[active] -= np.clip(residual / np.exp(log_slope), -h.max(), h.max())
        return x

    def transform(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent :math:`z_L` and the summed log-Jacobian of all layers."""
        z, log_det = np.asarray(x, dtype=float), np.zeros(len(x))
        for layer in range(self.n_layers):
            z, ld = self._layer_forward(layer, z)
            log_det += ld
        return z, log_det

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        z, log_det = self.transform(np.atleast_2d(theta))
        return log_det - 0.5 * (z**2).sum(1) - z.shape[1] * _LOG_SQRT_2PI

    def inverse(self, z: np.ndarray) -> np.ndarray:
        x = np.asarray(z, dtype=float)
        for layer in reversed(range(self.n_layers)):
            x = x @ self.rotations[layer]
            x = np.column_stack([self._marginal_inverse(x[:, j], layer, j) for j in range(x.shape[1])])
        return x

    def sample(self, n: int, seed: int) -> np.ndarray:
        return self.inverse(np.random.default_rng(seed).standard_normal((n, self.centres.shape[1])))

    @classmethod
    def fit(
        cls, x: np.ndarray, weights: np.ndarray, seed: int, config: RBIGConfig | None = None
    ) -> tuple[RBIG, list[dict[str, float]]]:
        """Fit to the weighted sample ``(x, weights)`` (``config``: the defaults where None); returns
        the model and per-layer validation NLL."""
        from scipy.stats import special_ortho_group  # here, not at the top: 0.6 s that only fitting needs

        config = config or RBIGConfig()

        keep = weights > 0
        x, weights = np.asarray(x, dtype=float)[keep], np.asarray(weights, dtype=float)[keep]
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(x))
        n_val = max(1, int(round(config.validation_fraction * len(x))))
        train_idx, val_idx = (  # kept in the permuted order: equal weights give the plain split
            idx[np.isin(idx, heaviest_share(weights, idx))] for idx in (order[n_val:], order[:n_val])
        )
        train, val = x[train_idx], x[val_idx]
        w_train, w_val = weights[train_idx], weights[val_idx]
        w_val = w_val / w_val.sum()
        dim = x.shape[1]
        n_eff = w_train.sum() ** 2 / (w_train**2).sum()
        u = np.linspace(-config.level_range, config.level_range, config.n_centres)
        levels = ndtr(u)
        edges = ndtr(np.concatenate([[-np.inf], 0.5 * (u[1:] + u[:-1]), [np.inf]]))
        log_p = np.log(np.diff(edges))
        guarded = config.guard_weight > 0
        if guarded:  # one more kernel per marginal: the guard, last
            log_p = np.append(log_p + np.log1p(-config.guard_weight), np.log(config.guard_weight))
        n_kernels = len(log_p)

        centres, bandwidths, rotations, history = [], [], [], []
        val_log_det = np.zeros(len(val))
        best_nll, best_layers, since_best = np.inf, 0, 0
        for layer in range(config.max_layers):
            layer_centres, layer_h = np.empty((dim, n_kernels)), np.empty((dim, n_kernels))
            for j in range(dim):
                mean = np.average(train[:, j], weights=w_train)
                std = np.sqrt(np.average((train[:, j] - mean) ** 2, weights=w_train))
                q25, q75 = _weighted_quantiles(train[:, j], w_train, np.array([0.25, 0.75]))
                spread = min(std, (q75 - q25) / 1.349) if q75 > q25 else std
                c = _weighted_quantiles(train[:, j], w_train, levels)
                spacing = np.gradient(c)
                h = np.maximum(0.9 * max(spread, 1e-6) * n_eff ** (-0.2), config.spacing_factor * spacing)
                h[[0, -1]] = np.maximum(h[[0, -1]], config.tail_factor * std)
                layer_centres[j] = np.append(c, mean) if guarded else c
                layer_h[j] = np.append(h, max(std, 1e-6)) if guarded else h
            rotation = special_ortho_group.rvs(dim, random_state=rng) if dim > 1 else np.ones((1, 1))
            centres.append(layer_centres)
            bandwidths.append(layer_h)
            rotations.append(rotation)
            step = cls(
                np.array(centres[-1:]), np.array(bandwidths[-1:]), np.tile(log_p, (1, dim, 1)), np.array(rotations[-1:])
            )
            train, _ = step._layer_forward(0, train)
            val, ld = step._layer_forward(0, val)
            val_log_det += ld
            nll = float(-(w_val * (val_log_det - 0.5 * (val**2).sum(1) - dim * _LOG_SQRT_2PI)).sum())
            history.append({"layer": layer + 1, "val_loss": nll})
            if nll < best_nll - 1e-4:
                best_nll, best_layers, since_best = nll, layer + 1, 0
            else:
                since_best += 1
                if since_best >= config.patience:
                    break
        model = cls(
            np.array(centres[:best_layers]),
            np.array(bandwidths[:best_layers]),
            np.tile(log_p, (best_layers, dim, 1)),
            np.array(rotations[:best_layers]),
        )
        return model, history

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {
            "centres": torch.as_tensor(self.centres),
            "bandwidths": torch.as_tensor(self.bandwidths),
            "log_weights": torch.as_tensor(self.log_weights),
            "rotations": torch.as_tensor(self.rotations),
        }

    @classmethod
    def from_state_tensors(cls, state: dict[str, torch.Tensor]) -> RBIG:
        return cls(*(state[k].numpy() for k in ("centres", "bandwidths", "log_weights", "rotations")))
