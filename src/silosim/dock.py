"""Docking (Axtell, Axelrod, Epstein & Cohen 1996): silosim's mechanisms reproduce their published models.

``silosim dock axelrod`` runs Axelrod's (1997) culture model on bounded
square lattices with the organisation model's own interaction rule,
:func:`silosim.dynamics.axelrod_exchange`, and sets the number of stable
regions beside the paper's Table 2 and its territory-size result.

``silosim dock deffuant`` keeps the name the design gave it, but silosim has
no bounded-confidence mechanism to dock against Deffuant et al. (2000):
stakeholder pull is a majority rule on one feature and the viewpoint layer
uses the same Axelrod traits. What silosim does take from a published model
besides Axelrod's is its drift, :func:`silosim.dynamics.drift_traits`, from
Klemm, Eguíluz, Toral & San Miguel (2003), so that is what this command
docks: Axelrod's lattice plus silosim's drift, against Klemm et al.'s
noise-induced order–disorder transition.

The engine
----------
Each run is one lattice; a batch holds many runs as numpy arrays and steps
them together. Within one lattice events are applied strictly in the order
they were drawn (pick a site, then one of its neighbours, uniformly), as in
the paper. To apply many of them in one vectorised call, each step takes
from every lattice the longest run of its next events in which no event
reads a site that an earlier one of them may have changed; those events
commute, so applying them at once gives exactly the sequential result. An
event between two identical sites, or two sites sharing nothing, cannot
change anything (tested in ``tests/test_dynamics.py``); such events are
counted but not passed to :func:`axelrod_exchange`; every other event is,
with its own uniform draws. Undrawn events carry over to the next step, so
the event sequence is an i.i.d. sequence, unchanged by the batching.
"""

from __future__ import annotations

import functools
import json
import math
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from queue import Empty, Queue

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from silosim.atomic import atomic_folder
from silosim.dynamics import axelrod_exchange, drift_traits

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

# ---------------------------------------------------------------------------- lattices


@lru_cache(maxsize=32)
def lattice(side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bounded ``side × side`` square lattice (no wrap-around), von Neumann neighbourhood.

    Sites are numbered row by row.

    Returns:
        ``(neighbours, degree, edges)``: (sites × 4) neighbour indices, the
        first ``degree[s]`` of each row valid; (sites,) number of neighbours
        (2 in corners, 3 on borders, 4 inside); (pairs × 2) every pair of
        neighbouring sites once.
    """
    rows, cols = np.divmod(np.arange(side * side), side)
    neighbours = np.zeros((side * side, 4), dtype=np.int64)
    degree = np.zeros(side * side, dtype=np.int64)
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        r, c = rows + dr, cols + dc
        ok = (r >= 0) & (r < side) & (c >= 0) & (c < side)
        neighbours[ok, degree[ok]] = (r * side + c)[ok]
        degree += ok
    site = np.arange(side * side).reshape(side, side)
    edges = np.concatenate(
        [
            np.stack([site[:, :-1].ravel(), site[:, 1:].ravel()], axis=1),
            np.stack([site[:-1, :].ravel(), site[1:, :].ravel()], axis=1),
        ]
    )
    for a in (neighbours, degree, edges):
        a.setflags(write=False)
    return neighbours, degree, edges


def is_frozen(grid: np.ndarray) -> bool:
    """Axelrod's stopping rule on one lattice: every neighbouring pair is identical or shares nothing.

    Args:
        grid: (side × side × features) traits.
    """
    for a, b in ((grid[:, :-1], grid[:, 1:]), (grid[:-1, :], grid[1:, :])):
        same = (a == b).sum(axis=-1)
        if np.any((same > 0) & (same < grid.shape[-1])):
            return False
    return True


def regions(grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable regions of each lattice: connected sets of sites with identical culture.

    Args:
        grids: (runs × side × side × features) traits.

    Returns:
        ``(count, largest)``: per lattice, the number of regions and the
        number of sites in the largest one.
    """
    runs, side = grids.shape[0], grids.shape[1]
    n = side * side
    _, _, edges = lattice(side)
    flat = grids.reshape(runs * n, -1)
    a = (np.arange(runs)[:, None] * n + edges[:, 0]).ravel()
    b = (np.arange(runs)[:, None] * n + edges[:, 1]).ravel()
    same = np.all(flat[a] == flat[b], axis=1)
    graph = coo_matrix((np.ones(int(same.sum()), dtype=np.int8), (a[same], b[same])), shape=(runs * n, runs * n))
    _, label = connected_components(graph, directed=False)
    # components never span two lattices: count them and measure them per lattice
    owner = np.zeros(label.max() + 1, dtype=np.int64)
    owner[label] = np.repeat(np.arange(runs), n)
    sizes = np.bincount(label)
    count = np.bincount(owner, minlength=runs)
    largest = np.zeros(runs, dtype=np.int64)
    np.maximum.at(largest, owner, sizes)
    return count, largest


# ---------------------------------------------------------------------------- engine


def _field_bits(traits: int) -> int:
    return max(1, int(traits - 1).bit_length())


class Lattices:
    """A batch of independent Axelrod lattices, stepped together with :func:`axelrod_exchange`.

    Each lattice keeps its own event order: see the module docstring for why
    applying a conflict-free run of events at once is exact. Cultures are
    also packed into one integer per site (``bits`` per feature) so that the
    share of common features of every candidate pair costs a few integer
    operations.

    Args:
        side: lattice side.
        features: F.
        traits: q (``features × bits`` must fit in 64 bits, ``bits`` = bits of q − 1).
        runs: number of lattices.
        rng: random generator of the batch.
        drift: per lattice, silosim's drift rate, applied once per sweep
            (``side²`` events) with :func:`drift_traits`; ``None`` for none.
        uniform: start each lattice from one random culture instead of
            random cultures site by site.
    """

    MIN_WINDOW = 8
    MAX_WINDOW = 4096

    def __init__(
        self,
        side: int,
        features: int,
        traits: int,
        runs: int,
        rng: np.random.Generator,
        drift: np.ndarray | None = None,
        uniform: bool = False,
    ) -> None:
        self.side, self.features, self.traits, self.rng = side, features, traits, rng
        self.sites = side * side
        self.bits = _field_bits(traits)
        if features * self.bits > 64:
            raise ValueError(f"F={features} features of q={traits} traits do not fit the 64-bit packing")
        self.neighbours, self.degree, self.edges = lattice(side)
        dtype = np.int8 if traits <= 127 else np.int16
        if uniform:  # every site of a lattice starts with the same random culture
            self.culture = np.repeat(rng.integers(0, traits, (runs, features)), self.sites, axis=0).astype(dtype)
        else:
            self.culture = rng.integers(0, traits, (runs * self.sites, features)).astype(dtype)
        self.shifts = (np.arange(features) * self.bits).astype(np.uint64)
        self.low = np.uint64(sum(1 << int(s) for s in self.shifts))
        self.keys = self._pack(self.culture)
        self.id = np.arange(runs)  # original index of each lattice still in the batch
        self.events = np.zeros(runs, dtype=np.int64)
        self.last_change = np.zeros(runs, dtype=np.int64)  # events up to the step of the last change
        self.drift = None if drift is None else np.asarray(drift, dtype=float)
        self.sweep_end = np.full(runs, self.sites, dtype=np.int64)
        self.window = max(self.MIN_WINDOW, int(2 * math.sqrt(self.sites)))
        self._never = self.MAX_WINDOW + 1
        self._first_write = np.full(runs * self.sites, self._never, dtype=np.int64)
        self._size = 0  # undrawn events buffered per lattice
        self.ptr = np.zeros(runs, dtype=np.int64)
        self._refill()

    @property
    def runs(self) -> int:
        """Lattices in the batch."""
        return len(self.id)

    def grids(self) -> np.ndarray:
        """The cultures as (runs × side × side × features)."""
        return self.culture.reshape(self.runs, self.side, self.side, self.features)

    def _pack(self, culture: np.ndarray) -> np.ndarray:
        return np.bitwise_or.reduce(culture.astype(np.uint64) << self.shifts, axis=-1)

    def _live(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Pairs of packed cultures that share some features but not all (an interaction can change them)."""
        x = a ^ b
        y, span = x.copy(), 1  # OR each field's bits into its lowest bit
        while 2 * span <= self.bits:
            y |= y >> np.uint64(span)
            span *= 2
        if span < self.bits:
            y |= y >> np.uint64(self.bits - span)
        y &= self.low
        return (x != 0) & (y != self.low)

    def _refill(self) -> None:
        """Draw the next events of every lattice, after those not yet applied.

        An event is drawn whole when it is buffered: its site, which of the
        site's neighbours (uniformly), and the two uniform numbers that
        :func:`axelrod_exchange` uses.
        """
        runs, old = self.runs, self._size
        size = max(16 * self.window, 2048)
        site = self.rng.integers(0, self.sites, (runs, size))
        nbr = self.neighbours[site, (self.rng.random((runs, size)) * self.degree[site]).astype(np.int64)]
        base = (np.arange(runs) * self.sites)[:, None]  # buffered as rows of the batch's arrays
        site += base
        nbr += base
        u = self.rng.random((2, runs, size))
        if old:
            keep = self.ptr[:, None] + np.arange(size)
            site = np.take_along_axis(np.concatenate([self._site.reshape(runs, old), site], axis=1), keep, axis=1)
            nbr = np.take_along_axis(np.concatenate([self._nbr.reshape(runs, old), nbr], axis=1), keep, axis=1)
            u = np.take_along_axis(np.concatenate([self._u.reshape(2, runs, old), u], axis=2), keep[None], axis=2)
        self._site, self._nbr, self._u = site.ravel(), nbr.ravel(), u.reshape(2, -1)
        self._size = size
        self.ptr[:] = 0

    def step(self) -> bool:
        """Apply, in every lattice, its next run of events that do not depend on one another.

        Returns:
            Whether the batch ended a sweep in this step (with drift only:
            lattices then wait for one another, and all drift together).
        """
        runs, m = self.runs, self.window
        ar = np.arange(m)
        idx = (np.arange(runs) * self._size + self.ptr)[:, None] + ar
        a, b = self._site[idx], self._nbr[idx]
        live = self._live(self.keys[a], self.keys[b])  # could change the active site
        # an event depends on an earlier one of this window if it reads a site that one may write
        fw = self._first_write
        written = a[live]
        np.minimum.at(fw, written, np.nonzero(live)[1])
        depends = (fw[a] < ar) | (fw[b] < ar)
        fw[written] = self._never
        natural = np.where(depends.any(axis=1), depends.argmax(axis=1), m)
        take = natural
        if self.drift is not None:  # stop at the end of the sweep: drift comes between sweeps
            take = np.minimum(natural, self.sweep_end - self.events)
        apply = live & (ar < take[:, None])
        changed = None
        if apply.any():
            rows, which = a[apply], idx[apply]
            old = self.culture[rows]
            _, new = axelrod_exchange(old, self.culture[b[apply]], self._u[0, which], self._u[1, which])
            self.culture[rows] = new
            self.keys[rows] = self._pack(new)
            changed = np.nonzero(apply)[0][np.any(new != old, axis=1)]  # lattice of each change
        self.ptr += take
        self.events += take
        if changed is not None:  # to within this step's events (repeated lattices get the same value)
            self.last_change[changed] = self.events[changed]
        swept = self.drift is not None and bool(np.all(self.events >= self.sweep_end))
        if swept:
            self._drift()
        # the window follows the typical run length: double it while most lattices use it up
        typical = natural.sum() / runs
        if typical >= 0.75 * m:
            self.window = min(2 * m, self.MAX_WINDOW if self.drift is None else max(self.sites, self.MIN_WINDOW))
        elif 4 * typical < m:
            self.window = max(m // 2, self.MIN_WINDOW)
        if int(self.ptr.max()) + self.window > self._size:
            self._refill()
        return swept

    def _drift(self) -> None:
        """End of a sweep: every lattice drifts once (silosim's :func:`drift_traits`, as once per model step)."""
        n = self.sites
        for rate in np.unique(self.drift):
            which = np.flatnonzero(self.drift == rate)
            rows = (which[:, None] * n + np.arange(n)).ravel()
            block = self.culture[rows]
            drift_traits(block, float(rate), self.traits, self.rng)
            self.culture[rows] = block
            self.keys[rows] = self._pack(block)
        self.sweep_end += n

    def active(self) -> np.ndarray:
        """Per lattice: some neighbouring pair shares some but not all features (it can still change)."""
        keys = self.keys.reshape(self.runs, self.sites)
        return np.any(self._live(keys[:, self.edges[:, 0]], keys[:, self.edges[:, 1]]), axis=1)

    def keep(self, mask: np.ndarray) -> None:
        """Drop the lattices not in ``mask`` from the batch."""
        rows = np.repeat(mask, self.sites)
        self.culture, self.keys = self.culture[rows], self.keys[rows]
        buffered = np.repeat(mask, self._size)
        moved = np.repeat((np.cumsum(mask)[mask] - 1 - np.flatnonzero(mask)) * self.sites, self._size)
        self._site, self._nbr = self._site[buffered] + moved, self._nbr[buffered] + moved
        self._u = self._u[:, buffered]
        self.id, self.events, self.ptr = self.id[mask], self.events[mask], self.ptr[mask]
        self.last_change = self.last_change[mask]
        self.sweep_end = self.sweep_end[mask]
        if self.drift is not None:
            self.drift = self.drift[mask]
        self._first_write = self._first_write[: self.runs * self.sites]


class Ticker:
    """Calls a progress callback at most once a second."""

    def __init__(self, callback: Callable[[float], None] | None, every: float = 1.0) -> None:
        self.callback, self.every, self.last = callback, every, time.monotonic()

    def due(self) -> bool:
        """Whether a second has passed since the last call (never without a callback)."""
        return self.callback is not None and time.monotonic() - self.last >= self.every

    def __call__(self, share: float) -> None:
        """Report ``share`` of the work done."""
        self.last = time.monotonic()
        self.callback(float(share))


def run_axelrod(
    side: int,
    features: int,
    traits: int,
    runs: int,
    seed: Sequence[int] | int,
    max_sweeps: int = 10**6,
    progress: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """Axelrod's model on ``runs`` bounded lattices, each until no neighbouring pair can change.

    Args:
        side: lattice side.
        features: F.
        traits: q.
        runs: number of runs.
        seed: seed (or entropy sequence) of the batch.
        max_sweeps: give up on a run after this many events per site.
        progress: called now and then with the share of the work done (an estimate).

    Returns:
        Per run: ``regions``, ``largest`` region (sites), ``events`` up to
        the last one that changed a site (to within one step's events), and
        ``frozen``: the stopping rule checked again, independently, on the
        final lattice.
    """
    batch = Lattices(side, features, traits, runs, np.random.default_rng(seed))
    out = {k: np.zeros(runs, dtype=np.int64) for k in ("regions", "largest", "events")}
    out["frozen"] = np.zeros(runs, dtype=bool)
    every = batch.sites * max(1, side // 10)  # check the stopping rule every sweep or few
    next_check = every
    tick = Ticker(progress)
    while batch.runs:
        batch.step()
        if tick.due():  # finished runs count whole, running ones by their share of the usual run length
            tick(((runs - batch.runs) + np.minimum(batch.events / _events_estimate(side), 0.9).sum()) / runs)
        if batch.events.min() < next_check:
            continue
        done = ~batch.active() | (batch.events >= max_sweeps * batch.sites)
        if done.any():
            grids = batch.grids()[done]
            ids = batch.id[done]
            out["regions"][ids], out["largest"][ids] = regions(grids)
            out["events"][ids] = batch.last_change[done]
            out["frozen"][ids] = [is_frozen(g) for g in grids]
            batch.keep(~done)
        if batch.runs:
            next_check = batch.events.min() + every
    return out


def run_drift(
    side: int,
    features: int,
    traits: int,
    rates: Sequence[float],
    seed: Sequence[int] | int,
    sweeps: int,
    burn_in: int,
    sample_every: int = 5,
    uniform: bool = False,
    progress: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """Axelrod's lattice with silosim's drift: one lattice per given rate, for a fixed number of sweeps.

    A sweep is ``side²`` events (every site active once on average, like one
    silosim step); after each sweep :func:`drift_traits` runs once with the
    lattice's rate, as the model calls it once per step.

    Args:
        side: lattice side.
        features: F.
        traits: q.
        rates: drift rate of each lattice (chance per site and sweep).
        seed: seed (or entropy sequence) of the batch.
        sweeps: sweeps to run.
        burn_in: sweeps before the order parameter is sampled.
        sample_every: sweeps between samples.
        uniform: start every lattice from one culture (else random cultures).
        progress: called now and then with the share of the sweeps done.

    Returns:
        Per lattice: ``order``, the mean over samples of the largest
        region's share of sites (Klemm et al.'s S_max/N); ``final_order``
        and ``regions`` at the end.
    """
    rates = np.asarray(rates, dtype=float)
    runs = len(rates)
    batch = Lattices(side, features, traits, runs, np.random.default_rng(seed), drift=rates, uniform=uniform)
    total, count = np.zeros(runs), 0
    out: dict[str, np.ndarray] = {}
    sweep = 0
    tick = Ticker(progress)
    while sweep < sweeps:
        if not batch.step():
            continue
        sweep += 1
        if tick.due():
            tick(sweep / sweeps)
        if sweep > burn_in and sweep % sample_every == 0:
            _, largest = regions(batch.grids())
            total += largest / batch.sites
            count += 1
    out["regions"], largest = regions(batch.grids())
    out["final_order"] = largest / batch.sites
    out["order"] = total / max(count, 1)
    return out


# ---------------------------------------------------------------------------- published values and plans

AXELROD_SEED = 1997
DRIFT_SEED = 2003
PUBLISHED_RUNS = 10  # Axelrod (1997) averaged ten runs per condition

#: Axelrod (1997), Table 2: average number of stable regions on a 10×10 lattice, by (F, q).
TABLE2 = {
    (5, 5): 1.0,
    (5, 10): 3.2,
    (5, 15): 20.0,
    (10, 5): 1.0,
    (10, 10): 1.0,
    (10, 15): 1.4,
    (15, 5): 1.0,
    (15, 10): 1.0,
    (15, 15): 1.2,
}
TABLE2_ROUNDING = 0.05  # the table gives one decimal

#: Axelrod (1997), territory size at F=5, q=15: regions by lattice side (10: Table 2; 12 and 50: "about").
TERRITORY = {10: 20.0, 12: 23.0, 50: 6.0}
TERRITORY_ROUNDING = {10: 0.05, 12: 0.5, 50: 0.5}
TERRITORY_F, TERRITORY_Q = 5, 15


@dataclass(frozen=True)
class AxelrodPlan:
    """What ``silosim dock axelrod`` runs."""

    runs: int  # per Table 2 cell and per territory side up to ``large``
    sides: tuple[int, ...]  # territory-size curve (10×10 is Table 2's F=5, q=15 cell)
    large: int = 20  # sides beyond this run ``large_runs``: a 50×50 run takes ~40 s here
    large_runs: int = PUBLISHED_RUNS

    def runs_for(self, side: int) -> int:
        """Runs of the territory curve at this side."""
        return self.runs if side <= self.large else min(self.runs, self.large_runs)


AXELROD_FULL = AxelrodPlan(runs=PUBLISHED_RUNS, sides=(6, 8, 10, 12, 15, 20, 30, 50))
AXELROD_QUICK = AxelrodPlan(runs=PUBLISHED_RUNS, sides=(6, 10, 12, 20))


@dataclass(frozen=True)
class DriftPlan:
    """What ``silosim dock deffuant`` runs: Axelrod's lattice with silosim's drift (Klemm et al. 2003).

    Noise is given as x = r·N·ln N, r the drift rate per site and sweep, so
    that Klemm et al.'s threshold r ≈ 1/T with T ∝ N ln N sits at the same x
    for every size.
    """

    runs: int
    sides: tuple[int, ...]  # lattices started from one culture (the stationary order parameter)
    noise: tuple[float, ...]
    sweep_factor: float  # sweeps = max(min_sweeps, sweep_factor × N ln N)
    min_sweeps: int
    polarized_side: int  # lattice started from random cultures: does drift order it?
    polarized_noise: tuple[float, ...]
    polarized_sweeps: int
    features: int = TERRITORY_F
    traits: int = TERRITORY_Q

    def sweeps(self, side: int) -> int:
        """Sweeps of a run at this side (half of them burn-in)."""
        n = side * side
        return int(max(self.min_sweeps, math.ceil(self.sweep_factor * n * math.log(n))))


DRIFT_FULL = DriftPlan(
    runs=10,
    sides=(10, 20, 30),
    noise=(0.1, 0.3, 1.0, 3.0, 10.0),
    sweep_factor=2.0,
    min_sweeps=1000,
    polarized_side=10,
    polarized_noise=(0.0, 0.1, 0.3, 1.0, 10.0),
    polarized_sweeps=20000,
)
DRIFT_QUICK = DriftPlan(
    runs=5,
    sides=(8, 12),
    noise=(0.1, 1.0, 10.0),
    sweep_factor=1.0,
    min_sweeps=400,
    polarized_side=8,
    polarized_noise=(0.0, 0.3, 10.0),
    polarized_sweeps=3000,
)


# ---------------------------------------------------------------------------- statistics


def mean_se(values: np.ndarray) -> tuple[float, float, float]:
    """Mean, sample standard deviation and standard error of the mean."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    sd = float(values.std(ddof=1)) if n > 1 else math.nan
    return float(values.mean()), sd, sd / math.sqrt(n) if n > 1 else math.nan


def published_mean_check(
    values: np.ndarray, published: float, rounding: float, published_runs: int = PUBLISHED_RUNS, draws: int = 20000
) -> dict[str, float | bool]:
    """Could the published figure be a ``published_runs``-run mean of silosim's model?

    Axelrod published means of ten runs, not the runs, so a two-sample test
    (Mann–Whitney, Kolmogorov–Smirnov) has nothing to compare with. Instead a
    two-level bootstrap: resample silosim's n runs (our own sampling error),
    then ``published_runs`` runs from that resample (the paper's), ``draws``
    times. The 2.5 and 97.5 percentiles of those means are where a ten-run
    mean falls 95% of the time if the paper ran silosim's model; their
    spread is about s·√(1/10 + 1/n). The published figure, widened by its
    rounding, is consistent when it overlaps that range; ``p`` is the
    two-sided share of resampled means at least as far out as it.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    rng = np.random.default_rng(0)
    outer = rng.integers(0, n, (draws, n))
    inner = rng.integers(0, n, (draws, published_runs))
    means = values[np.take_along_axis(outer, inner, axis=1)].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    below = np.mean(means <= published + rounding)
    above = np.mean(means >= published - rounding)
    return {
        "range_low": float(low),
        "range_high": float(high),
        "p": float(min(1.0, 2 * min(below, above))),
        "consistent": bool(low - rounding <= published <= high + rounding),
    }


def curve_spread(table: pd.DataFrame, log_power: float, points: int = 25) -> float:
    """How well the order-parameter curves of different sizes collapse against r·N·(ln N)^log_power.

    Each size's curve is interpolated (in log noise) on a common grid over
    the range all sizes cover; the result is the mean over the grid of the
    standard deviation across sizes (NaN with fewer than two sizes).
    """
    curves = []
    for side, g in table.groupby("side"):
        n = side * side
        g = g.sort_values("x")
        scaled = np.log(g["rate"].to_numpy() * n * math.log(n) ** log_power)
        curves.append((scaled, g["order"].to_numpy()))
    if len(curves) < 2:
        return math.nan
    lo, hi = max(c[0].min() for c in curves), min(c[0].max() for c in curves)
    if lo >= hi:
        return math.nan
    grid = np.linspace(lo, hi, points)
    return float(np.mean(np.std([np.interp(grid, x, y) for x, y in curves], axis=0)))


def crossing(x: Sequence[float], y: Sequence[float], level: float = 0.5) -> float:
    """First x (on a log scale) where a decreasing curve y falls through ``level``; NaN if it never does."""
    x, y = np.log(np.asarray(x, dtype=float)), np.asarray(y, dtype=float)
    for k in range(len(x) - 1):
        if y[k] >= level > y[k + 1]:
            return float(np.exp(x[k] + (y[k] - level) / (y[k] - y[k + 1]) * (x[k + 1] - x[k])))
    return math.nan


# ---------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    """One batch of runs, executed in one process; its result depends only on its arguments."""

    kind: str  # "axelrod" or "drift"
    key: tuple  # the group its runs belong to
    args: dict
    cost: float  # rough relative run time, for the progress bar and scheduling
    labels: tuple = ()  # per run, what it stands for within the group (drift: the noise x)


_PROGRESS: Queue | None = None  # in a worker: where to report progress


def _init_worker(queue: Queue | None) -> None:
    """Worker start: report progress on ``queue``; leave Ctrl-C to the coordinator, which stops the workers."""
    global _PROGRESS
    _PROGRESS = queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _execute(task: Task, index: int = 0, queue: Queue | _Direct | None = None) -> tuple[Task, dict[str, np.ndarray]]:
    """Run one task; report its progress as ``(index, share done)`` on ``queue`` (a worker's by default)."""
    queue = queue if queue is not None else _PROGRESS
    run = run_axelrod if task.kind == "axelrod" else run_drift
    progress = None if queue is None else functools.partial(_put, queue, index)
    return task, run(**task.args, progress=progress)


def _put(queue: Queue | _Direct, index: int, share: float) -> None:
    queue.put((index, share))


def run_tasks(tasks: Sequence[Task], jobs: int, progress: bool = True) -> list[tuple[Task, dict[str, np.ndarray]]]:
    """Run the tasks on ``jobs`` processes (longest first), with a progress bar weighted by cost.

    Workers report how far each task has got once a second, so the bar also
    moves during long batches (a 50×50 lattice takes minutes). Workers are
    started by a fork server (forking beside threads is unsafe) and ignore
    Ctrl-C; on an interrupt the coordinator stops them and re-raises.
    """
    from tqdm import tqdm

    order = sorted(tasks, key=lambda t: -t.cost)
    done: dict[int, tuple[Task, dict[str, np.ndarray]]] = {}
    share = [0.0] * len(order)
    fmt = "{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]"
    with tqdm(total=sum(t.cost for t in order), bar_format=fmt, desc="docking", disable=not progress) as bar:

        def show(index: int, value: float) -> None:
            share[index] = max(share[index], min(value, 1.0))
            bar.n = sum(t.cost * f for t, f in zip(order, share, strict=True))
            bar.set_postfix_str(f"{len(done)}/{len(order)} batches", refresh=False)
            bar.refresh()

        if jobs <= 1 or len(order) == 1:
            direct = _Direct(lambda item: show(*item)) if progress else None
            for k, task in enumerate(order):
                done[k] = _execute(task, k, direct)
                show(k, 1.0)
            return [done[k] for k in sorted(done)]
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["silosim.dock"])
        # stopping workers on Ctrl-C leaves their queue's semaphores to the resource tracker: expected, not a leak
        sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
        queue = context.Queue() if progress else None
        pool = ProcessPoolExecutor(
            min(jobs, len(order)), mp_context=context, initializer=_init_worker, initargs=(queue,)
        )
        try:
            futures = {pool.submit(_execute, task, k): k for k, task in enumerate(order)}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while queue is not None:
                    try:
                        show(*queue.get_nowait())
                    except Empty:
                        break
                for future in finished:
                    done[futures[future]] = future.result()
                    show(futures[future], 1.0)
        except BaseException:  # interrupted or failed: stop the workers, keep nothing
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    return [done[k] for k in sorted(done)]


class _Direct:
    """A stand-in for a queue that hands each item straight to a function (single process)."""

    def __init__(self, function: Callable[[tuple[int, float]], None]) -> None:
        self.function = function

    def put(self, item: tuple[int, float]) -> None:
        """Hand the item over."""
        self.function(item)


def _chunks(runs: int, size: int) -> list[int]:
    return [min(size, runs - k) for k in range(0, runs, size)]


def _events_estimate(side: int) -> float:
    """Events until a run freezes at F=5, q=15, roughly ∝ side⁴ (measured: ~8e4 at 10×10, ~5e7 at 50×50)."""
    return 8e4 * (side / 10) ** 4


def axelrod_tasks(plan: AxelrodPlan) -> list[Task]:
    """Table 2 cells and territory sides, cut into batches of a fixed size (results do not depend on jobs)."""
    groups = [(("table2", f, q), 10, f, q, plan.runs) for f, q in TABLE2]
    groups += [
        (("territory", side), side, TERRITORY_F, TERRITORY_Q, plan.runs_for(side))
        for side in plan.sides
        if side != 10  # the 10×10 point is Table 2's F=5, q=15 cell
    ]
    tasks = []
    for key, side, f, q, runs in groups:
        size = int(np.clip(2_000_000 // side**4, 5, 50))
        for k, n in enumerate(_chunks(runs, size)):
            args = {"side": side, "features": f, "traits": q, "runs": n, "seed": [AXELROD_SEED, f, q, side, k]}
            # a step costs a fixed overhead plus a share per lattice: small batches are dearer per run
            tasks.append(Task("axelrod", key, args, cost=(n + 20) * _events_estimate(side) * (1 + f / 10)))
    return tasks


def drift_tasks(plan: DriftPlan) -> list[Task]:
    """Per (start, side), every noise level × runs lattices, in two batches when there are 10 runs or more."""
    tasks = []
    for start, sides, noise in (
        ("one culture", plan.sides, plan.noise),
        ("random", (plan.polarized_side,), plan.polarized_noise),
    ):
        for side in sides:
            n = side * side
            sweeps = plan.sweeps(side) if start == "one culture" else plan.polarized_sweeps
            for k, runs in enumerate(_chunks(plan.runs, math.ceil(plan.runs / 2) if plan.runs >= 10 else plan.runs)):
                x = np.repeat(np.asarray(noise, dtype=float), runs)
                args = {
                    "side": side,
                    "features": plan.features,
                    "traits": plan.traits,
                    "rates": (x / (n * math.log(n))).tolist(),
                    "seed": [DRIFT_SEED, side, 0 if start == "random" else 1, k],
                    "sweeps": sweeps,
                    "burn_in": sweeps // 2,
                    "uniform": start == "one culture",
                }
                tasks.append(Task("drift", (start, side), args, cost=len(x) * sweeps * n, labels=tuple(x)))
    return tasks


# ---------------------------------------------------------------------------- Axelrod (1997)


@dataclass
class Report:
    """A docking's tables, checks and text, ready to print and write."""

    model: str
    tables: dict[str, pd.DataFrame]  # file stem → table (CSV)
    markdown: str
    terminal: str
    checks: list[tuple[str, bool]]
    summary: dict
    plot: Callable[[Path], None]

    @property
    def passed(self) -> bool:
        """Whether every check that cannot be wrong held."""
        return all(ok for _, ok in self.checks)


def _groups(results: Iterable[tuple[Task, dict[str, np.ndarray]]]) -> dict[tuple, dict[str, np.ndarray]]:
    """Concatenate the batches of each group, in batch order."""
    parts: dict[tuple, list[tuple[list, dict]]] = {}
    for task, result in results:
        parts.setdefault(task.key, []).append((task.args["seed"], result))
    return {
        key: {name: np.concatenate([r[name] for _, r in sorted(batches, key=lambda b: b[0])]) for name in batches[0][1]}
        for key, batches in parts.items()
    }


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table with columns padded to line up in a terminal too."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _check_lines(checks: Sequence[tuple[str, bool]]) -> str:
    return "\n".join(f"- {'PASS' if ok else 'FAIL'}: {text}" for text, ok in checks)


def axelrod_report(results: Iterable[tuple[Task, dict[str, np.ndarray]]], plan: AxelrodPlan) -> Report:
    """Table 2 and the territory curve beside the published values, with the checks."""
    groups = _groups(results)
    runs_rows = []
    for key, g in groups.items():
        f, q, side = (key[1], key[2], 10) if key[0] == "table2" else (TERRITORY_F, TERRITORY_Q, key[1])
        for k in range(len(g["regions"])):
            runs_rows.append(
                {
                    "experiment": key[0],
                    "F": f,
                    "q": q,
                    "side": side,
                    "run": k,
                    "regions": int(g["regions"][k]),
                    "largest_region": int(g["largest"][k]),
                    "events_to_last_change": int(g["events"][k]),
                    "stopping_rule_met": bool(g["frozen"][k]),
                }
            )
    runs = pd.DataFrame(runs_rows)

    def row(values: np.ndarray, events: np.ndarray, published: float | None, rounding: float) -> dict:
        mean, sd, se = mean_se(values)
        out = {"mean": mean, "se": se, "sd": sd, "runs": len(values), "median_events": float(np.median(events))}
        if published is None:
            return out | {"range_low": math.nan, "range_high": math.nan, "p": math.nan, "consistent": None}
        return out | published_mean_check(values, published, rounding)

    table = pd.DataFrame(
        [
            {"F": f, "q": q, "published": pub, "published_runs": PUBLISHED_RUNS}
            | row(groups["table2", f, q]["regions"], groups["table2", f, q]["events"], pub, TABLE2_ROUNDING)
            for (f, q), pub in TABLE2.items()
        ]
    )
    territory_rows = []
    for side in plan.sides:
        g = groups["table2", TERRITORY_F, TERRITORY_Q] if side == 10 else groups["territory", side]
        pub = TERRITORY.get(side)
        territory_rows.append(
            {"side": side, "published": pub if pub is not None else math.nan}
            | row(g["regions"], g["events"], pub, TERRITORY_ROUNDING.get(side, 0.5))
        )
    territory = pd.DataFrame(territory_rows)

    m = {(r.F, r.q): r.mean for r in table.itertuples()}
    frozen = int(runs["stopping_rule_met"].sum())
    checks = [
        (f"the stopping rule holds at the end of every run ({frozen} of {len(runs)})", frozen == len(runs)),
        (f"F=5, q=5 ends in (almost) one region: mean {m[5, 5]:.2f} ≤ 1.5", m[5, 5] <= 1.5),
        (f"F=5, q=15 ends in many regions: mean {m[5, 15]:.2f} > 10", m[5, 15] > 10),
        (
            f"more traits never give fewer regions at F=5: {m[5, 5]:.2f} ≤ {m[5, 10]:.2f} ≤ {m[5, 15]:.2f}",
            m[5, 5] <= m[5, 10] <= m[5, 15],
        ),
    ]
    consistent = int(table["consistent"].sum())

    def cells(df: pd.DataFrame, first: Sequence[str]) -> list[list[str]]:
        return [
            [
                *(str(r[c]) for c in first),
                "" if pd.isna(r["published"]) else _fmt(r["published"], 1),
                _fmt(r["mean"]),
                _fmt(r["se"]),
                str(r["runs"]),
                "" if pd.isna(r["range_low"]) else f"{r['range_low']:.1f}–{r['range_high']:.1f}",
                "" if pd.isna(r["p"]) else _fmt(r["p"]),
                "" if r["consistent"] is None else ("yes" if r["consistent"] else "NO"),
            ]
            for _, r in df.iterrows()
        ]

    head = ["published", "silosim mean", "SE", "runs", "95% range of a 10-run mean", "p", "consistent"]
    t2 = md_table(["F", "q", *head], cells(table, ["F", "q"]))
    terr = md_table(["side", *head], cells(territory, ["side"]))
    terminal = (
        f"Axelrod (1997) Table 2: stable regions on a 10×10 lattice "
        f"({consistent} of {len(table)} published means consistent)\n{t2}\n\n"
        f"Territory size, F=5 q=15\n{terr}\n\nChecks\n{_check_lines(checks)}"
    )
    markdown = AXELROD_TEXT.format(
        table2=t2,
        territory=terr,
        checks=_check_lines(checks),
        consistent=consistent,
        cells=len(table),
        large=plan.large,
        large_runs=plan.large_runs,
    )
    summary = {
        "published_means_consistent": consistent,
        "table2": table.to_dict(orient="records"),
        "territory": territory.to_dict(orient="records"),
    }
    return Report(
        "axelrod",
        {"table2": table, "territory": territory, "runs": runs},
        markdown,
        terminal,
        checks,
        summary,
        lambda path: plot_axelrod(table, territory, path),
    )


AXELROD_TEXT = """\
## Table 2: stable regions on a 10×10 lattice

{table2}

{consistent} of {cells} published means lie where a 10-run mean of silosim's model falls 95% of the time.

## Territory size (F=5, q=15)

{territory}

Sides above {large}×{large} use at most {large_runs} runs (the paper's count): a 50×50 run needs
about 5·10⁷ events.

## Checks that cannot be wrong

{checks}

## How it is run

- Lattice: side × side sites, bounded (no wrap-around), four neighbours (von Neumann).
- Start: every site draws each of its F features uniformly among q traits.
- Event: pick a site at random, then one of its neighbours at random; silosim's own
  `silosim.dynamics.axelrod_exchange` decides whether they interact (chance = share of identical
  features) and which differing feature the site copies from the neighbour.
- Stop: when every neighbouring pair is identical or shares nothing; checked again,
  independently, on every final lattice.
- Region: a connected set of sites with identical culture (connected components).

## Reading the comparison

Axelrod published the mean of ten runs per cell, not the runs, so no two-sample test
(Mann–Whitney, Kolmogorov–Smirnov) is possible. The column "95% range of a 10-run mean" is where
the mean of 10 runs of silosim's model falls 95% of the time, by a two-level bootstrap (resample
silosim's runs, then 10 runs from the resample, so that both silosim's and the paper's sampling
error count). A published figure (± its rounding) inside it is what silosim's model would have
produced; p is the two-sided share of resampled 10-run means at least as far out as the
published one. With nine cells, about one "NO" in two dockings is expected by chance alone at
the 5% level; with 10 runs (`--quick`) the range itself is rough.
"""


def plot_axelrod(table: pd.DataFrame, territory: pd.DataFrame, path: Path) -> None:
    """Table 2 and the territory curve, silosim beside the published values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    x = np.arange(len(table))
    band = {"color": "tab:blue", "alpha": 0.3, "lw": 7}
    left.vlines(x - 0.1, table["range_low"], table["range_high"], label="95% range of a 10-run mean", **band)
    left.errorbar(x - 0.1, table["mean"], yerr=1.96 * table["se"], fmt="o", color="tab:blue", label="silosim ± 1.96 SE")
    left.plot(x + 0.15, table["published"], "kx", ms=9, mew=2, label="Axelrod (1997), Table 2")
    left.set_xticks(x, [f"F={f}\nq={q}" for f, q in zip(table["F"], table["q"], strict=True)])
    left.set_yscale("log")
    left.yaxis.set_major_locator(FixedLocator([1, 2, 5, 10, 20, 30]))
    left.yaxis.set_minor_locator(NullLocator())
    left.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
    left.set_ylabel("stable regions (10×10 lattice)")
    left.set_title("Table 2")
    left.legend(fontsize=8)
    sides = territory["side"]
    right.vlines(sides, territory["range_low"], territory["range_high"], **band)
    right.errorbar(
        sides, territory["mean"], yerr=1.96 * territory["se"], fmt="o-", color="tab:blue", label="silosim ± 1.96 SE"
    )
    pub = territory.dropna(subset=["published"])
    right.plot(pub["side"], pub["published"], "kx", ms=9, mew=2, label="Axelrod (1997)")
    right.set_xscale("log")
    right.xaxis.set_major_locator(FixedLocator(list(sides)))
    right.xaxis.set_minor_locator(NullLocator())
    right.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
    right.set_xlabel("lattice side (side × side sites)")
    right.set_ylabel("stable regions")
    right.set_title("Territory size, F=5, q=15")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------- drift: Klemm et al. (2003)


def drift_report(results: Iterable[tuple[Task, dict[str, np.ndarray]]], plan: DriftPlan) -> Report:
    """Order parameter against noise for every size and start, the thresholds, and the checks."""
    per_run = []
    for task, result in results:
        start, side = task.key
        for j, x in enumerate(task.labels):
            per_run.append(
                {
                    "start": start,
                    "side": side,
                    "x": x,
                    "batch": task.args["seed"][-1],
                    "sweeps": task.args["sweeps"],
                    "order": float(result["order"][j]),
                    "final_order": float(result["final_order"][j]),
                    "regions": int(result["regions"][j]),
                }
            )
    runs_table = pd.DataFrame(per_run).sort_values(["start", "side", "x", "batch"], kind="stable", ignore_index=True)
    runs_table.insert(3, "run", runs_table.groupby(["start", "side", "x"]).cumcount())
    rows = []
    for (start, side, x), g in runs_table.groupby(["start", "side", "x"], sort=True):
        n = side * side
        mean, sd, se = mean_se(g["order"])
        rows.append(
            {
                "start": start,
                "side": side,
                "x": x,
                "rate": x / (n * math.log(n)),
                "sweeps": int(g["sweeps"].iloc[0]),
                "runs": len(g),
                "order": mean,
                "se": se,
                "sd": sd,
                "final_regions": float(g["regions"].mean()),
            }
        )
    table = pd.DataFrame(rows)
    uniform = table[table.start == "one culture"]
    thresholds = []
    for side, g in uniform.groupby("side"):
        n = side * side
        xc = crossing(g["x"], g["order"])
        thresholds.append(
            {
                "side": side,
                "N": n,
                "x_c": xc,
                "r_c": xc / (n * math.log(n)),
                "r_c_N": xc / math.log(n),
                "r_c_N2": xc * n / math.log(n),
            }
        )
    thresholds = pd.DataFrame(thresholds)

    def spread(column: str) -> float:
        v = thresholds[column]
        return float(v.max() / v.min()) if v.notna().all() and len(v) > 1 else math.nan

    collapse = {"r·N·ln N": curve_spread(uniform, 1.0), "r·N": curve_spread(uniform, 0.0)}
    low, high = min(plan.noise), max(plan.noise)
    at_low = uniform[uniform.x == low]
    at_high = table[table.x == max(table.x)]
    polar = table[table.start == "random"].set_index("x")["order"]
    weakest = min(x for x in plan.polarized_noise if x > 0)
    checks = [
        (
            f"one culture survives weak drift (x = {low:g}): order ≥ 0.8 at every size "
            f"({', '.join(f'{v:.2f}' for v in at_low['order'])})",
            bool((at_low["order"] >= 0.8).all()),
        ),
        (
            f"strong drift sustains disorder (x = {high:g}): order ≤ 0.3 at every size and start "
            f"({', '.join(f'{v:.2f}' for v in at_high['order'])})",
            bool((at_high["order"] <= 0.3).all()),
        ),
        (
            f"weak drift orders a polarized lattice ({plan.polarized_side}×{plan.polarized_side}, x = {weakest:g}): "
            f"order {polar[weakest]:.2f} > {polar[0.0]:.2f} without drift",
            bool(polar[weakest] > polar[0.0]),
        ),
        (
            f"the threshold falls with size as 1/(N ln N): x_c = r_c·N·ln N within a factor 2 across sizes "
            f"(spread ×{_fmt(spread('x_c'))}, while r_c itself spreads ×{_fmt(spread('r_c'))}; "
            f"r_c·N ×{_fmt(spread('r_c_N'))}: these sizes cannot tell N ln N from N)",
            bool(spread("x_c") <= 2),
        ),
    ]
    order_rows = [
        [
            r.start,
            f"{r.side}×{r.side}",
            f"{r.x:g}",
            f"{r.rate:.2e}",
            r.sweeps,
            r.runs,
            _fmt(r.order),
            _fmt(r.se, 3),
            _fmt(r.final_regions, 1),
        ]
        for r in table.itertuples()
    ]
    order_md = md_table(
        [
            "start",
            "lattice",
            "x = r·N·ln N",
            "r (per site, sweep)",
            "sweeps",
            "runs",
            "S_max/N",
            "SE",
            "regions at end",
        ],
        order_rows,
    )
    thr_md = md_table(
        ["lattice", "N", "x_c = r_c·N·ln N", "r_c", "r_c·N"],
        [[f"{r.side}×{r.side}", r.N, _fmt(r.x_c), f"{r.r_c:.2e}", _fmt(r.r_c_N, 3)] for r in thresholds.itertuples()],
    )
    thr_md += (
        "\n\nHow far apart the curves of the different sizes lie (mean over the common range of the standard "
        "deviation of S_max/N across sizes; 0 = perfect collapse): "
        + "; ".join(f"against {k}: {_fmt(v, 3)}" for k, v in collapse.items())
    )
    terminal = (
        f"{DRIFT_HEADLINE}\n\nOrder parameter S_max/N (largest region's share), time average over the second half\n"
        f"{order_md}\n\nThreshold (S_max/N = 0.5, from one culture)\n{thr_md}\n\nChecks\n{_check_lines(checks)}"
    )
    markdown = DRIFT_TEXT.format(
        headline=DRIFT_HEADLINE,
        order=order_md,
        thresholds=thr_md,
        checks=_check_lines(checks),
        F=plan.features,
        q=plan.traits,
    )
    summary = {
        "thresholds": thresholds.to_dict(orient="records"),
        "collapse_spread": collapse,
        "order": table.to_dict(orient="records"),
    }
    return Report(
        "deffuant",
        {"drift": table, "thresholds": thresholds, "runs": runs_table.drop(columns=["batch", "sweeps"])},
        markdown,
        terminal,
        checks,
        summary,
        lambda path: plot_drift(table, path),
    )


DRIFT_HEADLINE = (
    "silosim has no bounded-confidence mechanism, so Deffuant et al. (2000) has nothing to dock against: "
    "stakeholder pull makes an owner adopt its stakeholders' majority trait on one feature. "
    "This docks silosim's drift instead (silosim.dynamics.drift_traits, the noise of Klemm, Eguíluz, Toral & "
    "San Miguel 2003, Phys. Rev. E 67, 045101) against that paper's noise-induced order–disorder transition."
)

DRIFT_TEXT = """\
{headline}

## The published claim

Klemm et al. (2003), abstract: in two dimensions "the dynamics is governed by the average
relaxation time T of perturbations. Noise at a rate r ≲ 1/T induces monocultural configurations,
whereas r ≳ 1/T sustains disorder"; T grows with the system size (the paper takes T ∝ N ln N,
so the threshold r_c ∝ 1/(N ln N); that form could not be checked against the paper's text
here, only the abstract). Noise is given here as x = r·N·ln N: if the paper is right, the order
parameter falls through 1/2 at about the same x for every lattice size. Over the sizes run here
ln N changes by a factor 1.5 only, so the docking tells a threshold ∝ 1/N (up to a logarithm)
from one that does not fall with N, not N ln N from N: compare the two collapse figures below.

## Order parameter

{order}

"one culture": every site starts with the same culture (does drift destroy a monoculture?);
"random": Axelrod's random start, which without drift freezes into many regions (does weak drift
order it?). S_max/N is the largest region's share of the sites, averaged over the second half of
each run and then over runs.

## Threshold

{thresholds}

## Checks

{checks}

## How it is run

Axelrod's model exactly as in `silosim dock axelrod` (bounded lattice, F={F}, q={q},
`silosim.dynamics.axelrod_exchange`), plus silosim's drift: after every sweep of N events (one
silosim step: every agent active about once), `silosim.dynamics.drift_traits` runs once with
rate r, as the model calls it once per step; each site then takes a random trait on a random
feature with chance r. Klemm et al. perturb one random site with probability r per event, which
is the same expected number of perturbations per site and sweep. The run count and lengths are
silosim's choice: the paper's figures are not reproduced number for number (its exact values
could not be checked here), only its claims above.

## What it does not show

That silosim's *stakeholder pull* behaves like any published model: it has no published
counterpart (a majority rule toward a community's stakeholders), and is not docked.
"""


def plot_drift(table: pd.DataFrame, path: Path) -> None:
    """S_max/N against x = r·N·ln N, one line per lattice size and start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for (start, side), g in table.groupby(["start", "side"]):
        g = g[g.x > 0]
        style = "o-" if start == "one culture" else "s--"
        n = side * side
        label = f"{side}×{side}, {start}"
        left.errorbar(g["x"], g["order"], yerr=1.96 * g["se"], fmt=style, label=label, capsize=2)
        right.errorbar(g["x"] / math.log(n), g["order"], yerr=1.96 * g["se"], fmt=style, label=label, capsize=2)
    for ax, xlabel in ((left, "x = r·N·ln N"), (right, "r·N (no log factor)")):
        ax.set_xscale("log")
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("S_max / N")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8)
    left.set_title("Klemm et al. (2003): collapse in r·N·ln N expected")
    right.set_title("the same data against r·N")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------- results folder and entry point


class DockError(Exception):
    """A bad request (exit code 2)."""


MARKER = "dock.json"


def write_folder(out: Path, report: Report, meta: dict) -> Path:
    """Write the report into ``out`` atomically, replacing an earlier docking report there.

    Everything is written into a temporary folder beside ``out`` and renamed
    into place when complete, like :func:`silosim.runner.write_results`. A
    non-empty ``out`` that is not a docking report is left alone (DockError).
    """
    out = Path(out)
    if _foreign(out):
        raise DockError(f"silosim dock: --out {out} exists and is not a docking report folder; choose another")
    with atomic_folder(out, replace=True) as tmp:
        for stem, df in report.tables.items():
            df.to_csv(tmp / f"{stem}.csv", index=False)
        (tmp / "dock.md").write_text(meta["title"] + "\n\n" + meta["line"] + "\n\n" + report.markdown)
        report.plot(tmp / "dock.png")
        checks = [{"check": text, "passed": ok} for text, ok in report.checks]
        body = meta | {"checks": checks, "passed": report.passed} | report.summary
        (tmp / MARKER).write_text(json.dumps(body, indent=2, default=_json_default) + "\n")
    return out


def _foreign(out: Path) -> bool:
    """Whether ``out`` holds something other than a docking report (which it must not overwrite)."""
    return out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists()))


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_docking(
    model: str,
    runs: int | None = None,
    jobs: int | None = None,
    out: Path | None = None,
    quick: bool = False,
    progress: bool = True,
) -> int:
    """``silosim dock MODEL``: run the docking, print the table, write the report folder.

    Args:
        model: ``axelrod`` (Axelrod 1997, Table 2 and territory size) or
            ``deffuant`` (silosim has no bounded confidence: docks its drift
            against Klemm et al. 2003 instead, and says so).
        runs: runs per cell (default: the published count, 10).
        jobs: worker processes (default: all cores). Results do not depend on it.
        out: report folder (default: ``results/dock-MODEL``).
        quick: a short version (under a minute).
        progress: show a progress bar.

    Returns:
        0 when every check that cannot be wrong holds, 1 when one fails, 2 on bad input.
    """
    from silosim import __version__

    if model not in ("axelrod", "deffuant"):
        print(f"silosim dock: unknown model {model!r} (axelrod or deffuant)", file=sys.stderr)
        return EXIT_BAD_INPUT
    jobs = jobs or os.cpu_count() or 1
    out = Path(out) if out is not None else Path("results") / f"dock-{model}"
    if _foreign(out):  # say so before the work, not after
        print(f"silosim dock: --out {out} exists and is not a docking report folder; choose another", file=sys.stderr)
        return EXIT_BAD_INPUT
    command = "silosim dock " + model + (f" --runs {runs}" if runs else "") + (" --quick" if quick else "")
    started = time.perf_counter()
    if model == "axelrod":
        plan = AXELROD_QUICK if quick else AXELROD_FULL
        plan = plan if runs is None else replace(plan, runs=runs)
        title = "# Docking: Axelrod (1997), The Dissemination of Culture"
        tasks, build = axelrod_tasks(plan), lambda res: axelrod_report(res, plan)
    else:
        dplan = DRIFT_QUICK if quick else DRIFT_FULL
        dplan = dplan if runs is None else replace(dplan, runs=runs)
        title = "# Docking: silosim's drift against Klemm, Eguíluz, Toral & San Miguel (2003)"
        print(
            "silosim dock deffuant: docking silosim's drift against Klemm et al. (2003), not bounded confidence "
            "(silosim has none); see the report",
            file=sys.stderr,
        )
        tasks, build = drift_tasks(dplan), lambda res: drift_report(res, dplan)
    report = build(run_tasks(tasks, jobs, progress=progress))
    wall = time.perf_counter() - started
    meta = {
        "title": title,
        "line": f"`{command}` · silosim {__version__} · {wall:.0f} s on {jobs} process(es) · seed "
        f"{AXELROD_SEED if model == 'axelrod' else DRIFT_SEED}",
        "model": model,
        "command": command,
        "runs": runs,
        "quick": quick,
        "jobs": jobs,
        "silosim_version": __version__,
        "wall_time_s": round(wall, 1),
    }
    try:
        written = write_folder(out, report, meta)
    except DockError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report.terminal)
    print(f"\n{wall:.0f} s · report: {written}")
    return EXIT_OK if report.passed else EXIT_FAILED
