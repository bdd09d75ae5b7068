"""Docking (Axtell, Axelrod, Epstein & Cohen 1996): silosim's mechanisms reproduce their published models.

``silosim dock axelrod`` runs Axelrod's (1997) culture model on bounded
square lattices with the organisation model's own interaction rule,
:func:`silosim.dynamics.axelrod_exchange`, and sets the number of stable
regions beside the paper's Table 2 and its territory-size result.

``silosim dock deffuant`` keeps the name the design gave it, but silosim has
no bounded-confidence mechanism to dock against Deffuant et al. (2000):
owners learn by March's (1991) code-learning rule (``silosim dock march``)
and the viewpoint layer uses the same Axelrod traits. What silosim does take from a published model
besides Axelrod's is its drift, :func:`silosim.dynamics.drift_traits`, from
Klemm, Eguíluz, Toral & San Miguel (2003), so that is what this command
docks: Axelrod's lattice plus silosim's drift, against Klemm et al.'s
noise-induced order–disorder transition.

``silosim dock march`` runs March's (1991) exploration–exploitation model
through the learning rules the organisation model uses,
:func:`silosim.needs.socialise` and :func:`silosim.needs.learn_code`, and sets
its equilibrium knowledge (Figures 1 and 2), turnover and turbulence beside
the paper's findings. Its runs are batched the simple way: every run of a
condition is one row of the same arrays, and each period applies both rules to
all of them at once (they never interact, so nothing needs ordering).

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

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from silosim import needs
from silosim.atomic import atomic_folder
from silosim.docking.tasks import Task, run_tasks
from silosim.dynamics import axelrod_exchange, drift_traits

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
SEEDS = {"axelrod": 1997, "deffuant": 2003, "march": 1991}  # each docking's root seed

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

AXELROD_SEED = SEEDS["axelrod"]
DRIFT_SEED = SEEDS["deffuant"]
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
            tasks.append(Task(run_axelrod, key, args, cost=(n + 20) * _events_estimate(side) * (1 + f / 10)))
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
                tasks.append(Task(run_drift, (start, side), args, cost=len(x) * sweeps * n, labels=tuple(x)))
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


def _check_lines(checks: Sequence[tuple[str, bool]], marks: tuple[str, str] = ("PASS:", "FAIL:")) -> str:
    return "\n".join(f"- {marks[0] if ok else marks[1]} {text}" for text, ok in checks)


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
    "owners learn by March's (1991) code-learning rule, docked by `silosim dock march`. "
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

How owners learn from their stakeholders: that is March's (1991) code learning, docked by
`silosim dock march`, not here.
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


# ---------------------------------------------------------------------------- March (1991)

MARCH_SEED = SEEDS["march"]
MARCH_RUNS = 80  # March (1991) averaged 80 runs per point
MARCH_MAX_PERIODS = 10_000  # a run still able to change after this many periods counts as capped
Z95 = 1.96  # 95% intervals: mean ± 1.96 SE


def march_start(
    runs: int, seed: Sequence[int] | int, dimensions: int = 30, individuals: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """March's starting state for a batch of runs.

    Reality is ±1 on each dimension with equal chance, here traits 1 and 0;
    each individual's belief on each dimension is March's 1, 0 or −1 with
    equal chance, here 1, :data:`silosim.needs.UNKNOWN` or 0; the code holds
    no belief anywhere.

    Args:
        runs: organisations.
        seed: seed (or entropy sequence) of the starting state.
        dimensions: March's m.
        individuals: March's n.

    Returns:
        ``(reality, beliefs, code)``: (runs × m), (runs × n × m) and (runs × m) int8 traits.
    """
    rng = np.random.default_rng(seed)
    reality = rng.integers(0, 2, (runs, dimensions), dtype=np.int8)
    beliefs = rng.integers(needs.UNKNOWN, 2, (runs, individuals, dimensions), dtype=np.int8)
    code = np.full((runs, dimensions), needs.UNKNOWN, dtype=np.int8)
    return reality, beliefs, code


def superior_individuals(code: np.ndarray, beliefs: np.ndarray, reality: np.ndarray) -> np.ndarray:
    """March's superior group: per run, the individuals who know more than the code (strictly).

    Knowledge is :func:`silosim.needs.match`, the share of dimensions on which
    beliefs equal reality (no belief never does).

    Returns:
        (runs × n) bool.
    """
    return needs.match(beliefs, reality[:, None, :]) > needs.match(code, reality)[:, None]


def march_period(
    code: np.ndarray,
    beliefs: np.ndarray,
    reality: np.ndarray,
    p1: float | np.ndarray,
    p2: float,
    rng: np.random.Generator,
    p3: float = 0.0,
    p4: float = 0.0,
) -> tuple[int, int]:
    """One period of March's model for a batch of runs, in place.

    First the world changes (turbulence: each dimension of reality flips
    with chance ``p4``) and people leave (turnover: each individual is
    replaced with chance ``p3`` by a newcomer whose beliefs are drawn like
    the first individuals'). Then both learning rules work from the state at
    that point, as if at the same time: the code learns from the superior
    group's beliefs with :func:`silosim.needs.learn_code` while every
    individual is socialised with :func:`silosim.needs.socialise` toward the
    code as it stood before it learned.

    Args:
        code: (runs × m) beliefs, changed in place.
        beliefs: (runs × n × m) individuals' beliefs, changed in place.
        reality: (runs × m) traits, changed in place by turbulence.
        p1: socialisation rate, a number or one per individual, (1 × n × 1) or (runs × n × 1).
        p2: code learning rate.
        rng: the random generator.
        p3: turnover rate.
        p4: turbulence rate.

    Returns:
        ``(socialised, learned)``: individuals' beliefs and code beliefs changed by learning.
    """
    if p4 > 0:
        flip = rng.random(reality.shape) < p4
        reality[flip] = 1 - reality[flip]
    if p3 > 0:
        leave = rng.random(beliefs.shape[:2]) < p3
        beliefs[leave] = rng.integers(needs.UNKNOWN, 2, (int(leave.sum()), beliefs.shape[2]), dtype=beliefs.dtype)
    superior = superior_individuals(code, beliefs, reality)
    start = code.copy()
    learned = needs.learn_code(code, beliefs, superior, p2, rng)
    socialised = needs.socialise(beliefs, start[:, None, :], p1, rng)
    return socialised, learned


def march_settled(code: np.ndarray, beliefs: np.ndarray, reality: np.ndarray) -> np.ndarray:
    """Per run: whether neither rule can change anything any more (March's equilibrium).

    Each rule is applied at rate 1 to a copy: :func:`silosim.needs.socialise`
    then changes every belief that differs from a belief of the code, and
    :func:`silosim.needs.learn_code` every code belief that the superior
    group's majority contradicts by a margin k > 0, which is exactly what
    either rule could change at any positive rate. When neither changes
    anything, every later period leaves the state as it is (without turnover
    or turbulence). This includes the rare equilibrium in which superior
    individuals remain but tie wherever they differ from the code.

    Returns:
        (runs,) bool.
    """
    probe = np.random.default_rng(0)  # at rate 1 no draw decides anything
    socialised = beliefs.copy()
    needs.socialise(socialised, code[:, None, :], 1.0, probe)
    settled = ~np.any(socialised != beliefs, axis=(1, 2))
    rows = np.flatnonzero(settled)
    if rows.size:
        learned = code[rows]
        needs.learn_code(
            learned, beliefs[rows], superior_individuals(learned, beliefs[rows], reality[rows]), 1.0, probe
        )
        settled[rows] = ~np.any(learned != code[rows], axis=1)
    return settled


def run_march(
    runs: int,
    seed: Sequence[int] | int,
    start_seed: Sequence[int] | int,
    p1: float,
    p2: float,
    fast: int = 0,
    fast_p1: float = 0.9,
    p3: float = 0.0,
    p4: float = 0.0,
    horizon: int | None = None,
    max_periods: int = MARCH_MAX_PERIODS,
    dimensions: int = 30,
    individuals: int = 50,
    progress: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """March's model on ``runs`` organisations at once, to equilibrium or for a fixed number of periods.

    Args:
        runs: organisations.
        seed: seed (or entropy sequence) of the learning.
        start_seed: seed of the starting state (:func:`march_start`): runs
            of different conditions with the same one start alike.
        p1: socialisation rate (of the slow learners, with ``fast``).
        p2: code learning rate.
        fast: individuals who learn at ``fast_p1`` instead (the first ones; beliefs are drawn alike).
        fast_p1: their socialisation rate.
        p3: turnover rate (needs a ``horizon``).
        p4: turbulence rate (needs a ``horizon``).
        horizon: run this many periods; ``None``: until equilibrium (:func:`march_settled`).
        max_periods: give up on reaching equilibrium after this many periods.
        dimensions: March's m.
        individuals: March's n.
        progress: called now and then with the share of the work done.

    Returns:
        Without a horizon, per run: ``knowledge``, the code's share of
        dimensions matching reality at equilibrium (or at the cap);
        ``periods`` to equilibrium; ``settled`` (False: capped); ``superior``,
        whether superior individuals remain at equilibrium (tied). With a
        horizon: ``trace``, (runs × horizon) the code's knowledge at the end
        of every period.
    """
    reality, beliefs, code = march_start(runs, start_seed, dimensions, individuals)
    rng = np.random.default_rng(seed)
    rate: float | np.ndarray = p1
    if fast:
        rate = np.full((1, individuals, 1), p1)
        rate[0, :fast] = fast_p1
    tick = Ticker(progress)
    if horizon is not None:
        trace = np.zeros((runs, horizon))
        for t in range(horizon):
            march_period(code, beliefs, reality, rate, p2, rng, p3, p4)
            trace[:, t] = needs.match(code, reality)
            if tick.due():
                tick((t + 1) / horizon)
        return {"trace": trace}
    if p3 > 0 or p4 > 0:
        raise ValueError("turnover and turbulence never settle: give a horizon")
    out = {
        "knowledge": np.zeros(runs),
        "periods": np.zeros(runs, dtype=np.int64),
        "settled": np.zeros(runs, dtype=bool),
        "superior": np.zeros(runs, dtype=bool),
    }
    ids = np.arange(runs)
    period = 0
    while ids.size:
        period += 1
        march_period(code, beliefs, reality, rate, p2, rng)
        settled = march_settled(code, beliefs, reality)
        done = settled | (period >= max_periods)
        if done.any():
            who = ids[done]
            out["knowledge"][who] = needs.match(code[done], reality[done])
            out["periods"][who] = period
            out["settled"][who] = settled[done]
            out["superior"][who] = superior_individuals(code[done], beliefs[done], reality[done]).any(axis=1)
            keep = ~done
            ids, code, beliefs, reality = ids[keep], code[keep], beliefs[keep], reality[keep]
        if tick.due():
            tick(1 - ids.size / runs)
    return out


@dataclass(frozen=True)
class MarchPlan:
    """What ``silosim dock march`` runs; rates are March's p1 (socialisation) to p4 (turbulence).

    Every condition runs the same ``runs`` starting states (run j of each
    condition starts from the same reality and beliefs), so conditions are
    compared run by run.
    """

    runs: int
    p1: tuple[float, ...]  # Figure 1: socialisation rates, for each code learning rate in p2
    p2: tuple[float, ...]
    fast: tuple[int, ...]  # Figure 2: fast learners among the n (must include 0 and n)
    turnover: tuple[float, ...]  # p3 (must include 0 and ``moderate``)
    turnover_p1: tuple[float, ...]  # socialisation rates of the turnover runs (must include ``check_p1``)
    slow_p1: float = 0.1
    fast_p1: float = 0.9
    mix_p2: float = 0.5
    turnover_p2: float = 0.5
    check_p1: float = 0.5  # the turnover checks are made at this socialisation rate
    moderate: float = 0.1  # the turnover the checks call moderate
    snapshot: int = 20  # March's Figure 4 shows the code's knowledge at period 20
    horizon: int = 200  # turnover runs; the long run is the mean over the last ``late`` periods
    late: int = 50
    turbulence: float = 0.02  # p4
    turbulence_turnover: tuple[float, ...] = (0.0, 0.1)  # must include 0
    turbulence_p1: float = 0.5
    turbulence_p2: float = 0.5
    turbulence_horizon: int = 100
    turbulence_late: int = 20
    max_periods: int = MARCH_MAX_PERIODS
    dimensions: int = 30
    individuals: int = 50

    def mean_p1(self, fast: int) -> float:
        """Average socialisation rate of a population with ``fast`` fast learners."""
        return round((fast * self.fast_p1 + (self.individuals - fast) * self.slow_p1) / self.individuals, 6)


MARCH_FULL = MarchPlan(
    runs=MARCH_RUNS,
    p1=tuple(round(0.1 * k, 1) for k in range(1, 10)),
    p2=(0.1, 0.5, 0.9),
    fast=(0, 10, 20, 30, 40, 50),
    turnover=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0),
    turnover_p1=(0.1, 0.5, 0.9),
)
MARCH_QUICK = MarchPlan(
    runs=40,
    p1=(0.1, 0.5, 0.9),
    p2=(0.1, 0.5, 0.9),
    fast=(0, 10, 30, 50),
    turnover=(0.0, 0.1, 0.3, 1.0),
    turnover_p1=(0.5,),
)


def march_conditions(plan: MarchPlan) -> dict[tuple, tuple]:
    """Every point of the four experiments and the condition it runs, ``(p1, p2, fast, p3, p4, horizon)``.

    A population of fast learners only is the homogeneous fast one, and a
    condition that two experiments share (all slow learners is Figure 1's
    p1 = 0.1 at p2 = 0.5) is one set of runs.
    """
    n = plan.individuals

    def condition(p1: float, p2: float, fast: int = 0, p3: float = 0.0, p4: float = 0.0, horizon: int = 0) -> tuple:
        return (plan.fast_p1, p2, 0, p3, p4, horizon) if fast == n else (p1, p2, fast, p3, p4, horizon)

    points = {("figure1", p2, p1): condition(p1, p2) for p2 in plan.p2 for p1 in plan.p1}
    for fast in plan.fast:
        points["mixed", fast] = condition(plan.slow_p1, plan.mix_p2, fast)
        if 0 < fast < n:
            points["same mean", fast] = condition(plan.mean_p1(fast), plan.mix_p2)
    for p1 in plan.turnover_p1:
        for p3 in plan.turnover:
            points["turnover", p1, p3] = condition(p1, plan.turnover_p2, p3=p3, horizon=plan.horizon)
    for p3 in plan.turbulence_turnover:
        points["turbulence", p3] = condition(
            plan.turbulence_p1, plan.turbulence_p2, p3=p3, p4=plan.turbulence, horizon=plan.turbulence_horizon
        )
    return points


def march_tasks(plan: MarchPlan) -> list[Task]:
    """One task per condition (:func:`march_conditions`), seeded by the condition's own parameters.

    The results thus depend neither on ``--jobs`` nor on which other
    conditions run. Every condition starts its runs from the same states.
    """
    n = plan.individuals
    if not ({0, n} <= set(plan.fast) and {0.0, plan.moderate} <= set(plan.turnover)):
        raise ValueError("the plan lacks a condition its checks compare")
    if plan.check_p1 not in plan.turnover_p1 or 0.0 not in plan.turbulence_turnover:
        raise ValueError("the plan lacks a condition its checks compare")
    tasks = []
    for key in dict.fromkeys(march_conditions(plan).values()):
        p1, p2, fast, p3, p4, horizon = key
        rates = (p1, p2, plan.fast_p1 if fast else 0.0, p3, p4)
        args = {
            "runs": plan.runs,
            "seed": [MARCH_SEED, 1, *(round(1000 * r) for r in rates), fast, horizon],
            "start_seed": [MARCH_SEED, 0, plan.dimensions, n],
            "p1": p1,
            "p2": p2,
            "fast": fast,
            "fast_p1": plan.fast_p1,
            "p3": p3,
            "p4": p4,
            "horizon": horizon or None,
            "max_periods": plan.max_periods,
            "dimensions": plan.dimensions,
            "individuals": n,
        }
        periods = horizon or 10 / p1  # slow learners take ~10/p1 periods to settle
        tasks.append(Task(run_march, key, args, cost=plan.runs * (periods + 5)))
    return tasks


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and its 95% interval (mean ± 1.96 SE)."""
    mean, _, se = mean_se(values)
    return mean, mean - Z95 * se, mean + Z95 * se


def _cell(values: np.ndarray) -> str:
    mean, low, high = _interval(values)
    return f"{mean:.3f} ({low:.3f}–{high:.3f})"


@dataclass(frozen=True)
class Paired:
    """Two conditions compared run by run (run j of each starts alike): the mean difference a − b, 95% interval."""

    diff: float
    low: float
    high: float
    overlap: bool  # whether the two means' own 95% intervals overlap

    @property
    def above(self) -> bool:
        """Whether a is above b: the whole interval of the difference is above 0."""
        return self.low > 0

    def text(self) -> str:
        """The difference, its interval, and whether the two means' intervals overlap."""
        apart = "the two means' intervals overlap" if self.overlap else "the two means' intervals do not overlap"
        return f"paired difference {self.diff:+.3f} [{self.low:+.3f}, {self.high:+.3f}]; {apart}"


def paired(a: np.ndarray, b: np.ndarray) -> Paired:
    """Compare two conditions' runs pair by pair (they must have started from the same states)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff, low, high = _interval(a - b)
    _, a_low, a_high = _interval(a)
    _, b_low, b_high = _interval(b)
    return Paired(diff, low, high, bool(a_low <= b_high and b_low <= a_high))


def march_report(results: Iterable[tuple[Task, dict[str, np.ndarray]]], plan: MarchPlan) -> Report:
    """March's four experiments as tables beside the published findings, with the checks."""
    by_condition = {task.key: result for task, result in results}
    res = {point: by_condition[condition] for point, condition in march_conditions(plan).items()}
    n, snap = plan.individuals, plan.snapshot
    runs_rows: list[dict] = []

    def keep_runs(experiment: str, r: dict[str, np.ndarray], **condition: float) -> None:
        for j in range(plan.runs):
            row = {"experiment": experiment, "p1": math.nan, "p2": math.nan, "fast": 0, "p3": 0.0, "p4": 0.0}
            row |= condition | {"run": j}
            if "trace" in r:
                late = plan.late if experiment == "turnover" else plan.turbulence_late
                row |= {"knowledge": r["trace"][j, -1], "at_snapshot": r["trace"][j, snap - 1]}
                row |= {"late_mean": r["trace"][j, -late:].mean()}
            else:
                row |= {"knowledge": r["knowledge"][j], "periods": int(r["periods"][j])}
                row |= {"settled": bool(r["settled"][j]), "superior_left": bool(r["superior"][j])}
            runs_rows.append(row)

    # Figure 1: equilibrium knowledge against p1, for each p2
    rows = []
    for p2 in plan.p2:
        for p1 in plan.p1:
            r = res["figure1", p2, p1]
            keep_runs("figure1", r, p1=p1, p2=p2)
            mean, low, high = _interval(r["knowledge"])
            rows.append(
                {
                    "p2": p2,
                    "p1": p1,
                    "runs": len(r["knowledge"]),
                    "knowledge": mean,
                    "low": low,
                    "high": high,
                    "sd": float(r["knowledge"].std(ddof=1)) if plan.runs > 1 else math.nan,
                    "median_periods": float(np.median(r["periods"])),
                    "max_periods": int(r["periods"].max()),
                    "capped": int((~r["settled"]).sum()),
                    "superior_left": int(r["superior"].sum()),
                }
            )
    figure1 = pd.DataFrame(rows)

    # Figure 2: fast and slow learners mixed, against homogeneous populations
    rows = []
    for fast in plan.fast:
        r = res["mixed", fast]
        keep_runs("mixed", r, p1=plan.slow_p1, p2=plan.mix_p2, fast=fast)
        mean, low, high = _interval(r["knowledge"])
        row = {
            "fast": fast,
            "slow": n - fast,
            "mean_p1": plan.mean_p1(fast),
            "runs": len(r["knowledge"]),
            "knowledge": mean,
            "low": low,
            "high": high,
            "median_periods": float(np.median(r["periods"])),
            "capped": int((~r["settled"]).sum()),
        }
        same = res.get(("same mean", fast))
        if same is not None:
            keep_runs("same mean", same, p1=plan.mean_p1(fast), p2=plan.mix_p2)
            h_mean, h_low, h_high = _interval(same["knowledge"])
            c = paired(r["knowledge"], same["knowledge"])
            row |= {"homogeneous": h_mean, "homogeneous_low": h_low, "homogeneous_high": h_high}
            row |= {"homogeneous_median_periods": float(np.median(same["periods"]))}
            row |= {"mix_minus_homogeneous": c.diff, "diff_low": c.low, "diff_high": c.high}
        rows.append(row)
    mixed = pd.DataFrame(rows)

    # turnover (Figure 4) and turbulence: fixed horizons
    rows = []
    for p1 in plan.turnover_p1:
        for p3 in plan.turnover:
            trace = res["turnover", p1, p3]["trace"]
            keep_runs("turnover", res["turnover", p1, p3], p1=p1, p2=plan.turnover_p2, p3=p3)
            at, at_low, at_high = _interval(trace[:, snap - 1])
            late, late_low, late_high = _interval(trace[:, -plan.late :].mean(axis=1))
            rows.append(
                {
                    "p1": p1,
                    "p3": p3,
                    "runs": len(trace),
                    f"period_{snap}": at,
                    "low": at_low,
                    "high": at_high,
                    "long_run": late,
                    "long_run_low": late_low,
                    "long_run_high": late_high,
                }
            )
    turnover = pd.DataFrame(rows)
    marks = sorted({t for t in (10, snap, 50, plan.turbulence_horizon) if t <= plan.turbulence_horizon})
    rows, trace_rows = [], []
    for p3 in plan.turbulence_turnover:
        trace = res["turbulence", p3]["trace"]
        keep_runs(
            "turbulence", res["turbulence", p3], p1=plan.turbulence_p1, p2=plan.turbulence_p2, p3=p3, p4=plan.turbulence
        )
        late, late_low, late_high = _interval(trace[:, -plan.turbulence_late :].mean(axis=1))
        rows.append(
            {"p3": p3, "runs": len(trace)}
            | {f"period_{t}": float(trace[:, t - 1].mean()) for t in marks}
            | {"late": late, "late_low": late_low, "late_high": late_high}
        )
        for t in range(trace.shape[1]):
            mean, low, high = _interval(trace[:, t])
            trace_rows.append({"p3": p3, "period": t + 1, "knowledge": mean, "low": low, "high": high})
    turbulence, turbulence_trace = pd.DataFrame(rows), pd.DataFrame(trace_rows)
    runs = pd.DataFrame(runs_rows)

    # checks: what the paper states, each a run-by-run comparison of conditions that start alike
    settling = [r for r in by_condition.values() if "settled" in r]
    total = sum(len(r["settled"]) for r in settling)
    capped = sum(int((~r["settled"]).sum()) for r in settling)
    checks = [
        (
            f"every run without turnover or turbulence reached equilibrium within {plan.max_periods} periods "
            f"({total - capped} of {total})",
            capped == 0,
        )
    ]
    lo1, hi1, lo2, hi2 = min(plan.p1), max(plan.p1), min(plan.p2), max(plan.p2)

    def k(p2: float, p1: float) -> np.ndarray:
        return res["figure1", p2, p1]["knowledge"]

    for p2 in plan.p2:
        c = paired(k(p2, lo1), k(p2, hi1))
        checks.append(
            (
                f"Figure 1, p2 = {p2:g}: slower socialisation, more knowledge: p1 = {lo1:g} {_cell(k(p2, lo1))} "
                f"above p1 = {hi1:g} {_cell(k(p2, hi1))} ({c.text()})",
                c.above,
            )
        )
    c = paired(k(hi2, lo1), k(lo2, lo1))
    checks.append(
        (
            f"Figure 1, slow socialisation (p1 = {lo1:g}): faster code learning, more knowledge: "
            f"p2 = {hi2:g} {_cell(k(hi2, lo1))} above p2 = {lo2:g} {_cell(k(lo2, lo1))} ({c.text()})",
            c.above,
        )
    )
    all_fast = res["mixed", n]["knowledge"]
    mixes = [f for f in plan.fast if 0 < f < n]
    versus_fast = {f: paired(res["mixed", f]["knowledge"], all_fast) for f in mixes}
    checks.append(
        (
            f"Figure 2 (p2 = {plan.mix_p2:g}): every mix of slow (p1 = {plan.slow_p1:g}) and fast "
            f"(p1 = {plan.fast_p1:g}) learners knows more than all {n} fast {_cell(all_fast)}: "
            + "; ".join(
                f"{f} fast {_cell(res['mixed', f]['knowledge'])}, {c.diff:+.3f} [{c.low:+.3f}, {c.high:+.3f}]"
                for f, c in versus_fast.items()
            ),
            bool(versus_fast) and all(c.above for c in versus_fast.values()),
        )
    )

    def at(p3: float, p1: float = plan.check_p1) -> np.ndarray:
        return res["turnover", p1, p3]["trace"][:, snap - 1]

    heavy = max(plan.turnover)
    c = paired(at(plan.moderate), at(0.0))
    checks.append(
        (
            f"turnover (p1 = {plan.check_p1:g}, p2 = {plan.turnover_p2:g}, period {snap}): moderate turnover "
            f"p3 = {plan.moderate:g} raises the code's knowledge: {_cell(at(plan.moderate))} above "
            f"{_cell(at(0.0))} without ({c.text()})",
            c.above,
        )
    )
    c = paired(at(plan.moderate), at(heavy))
    checks.append(
        (
            f"turnover (p1 = {plan.check_p1:g}, period {snap}): too much lowers it again: p3 = {heavy:g} "
            f"{_cell(at(heavy))} below p3 = {plan.moderate:g} {_cell(at(plan.moderate))} ({c.text()})",
            c.above,
        )
    )
    late_n, hz = plan.turbulence_late, plan.turbulence_horizon
    still = res["turbulence", 0.0]["trace"]
    still_end = still[:, -late_n:].mean(axis=1)
    c = paired(still[:, snap - 1], still_end)
    window = f"periods {hz - late_n + 1}–{hz}"
    checks.append(
        (
            f"turbulence (p4 = {plan.turbulence:g}, p1 = {plan.turbulence_p1:g}, p2 = {plan.turbulence_p2:g}), "
            f"no turnover: the code's knowledge erodes: {window} {_cell(still_end)} below period {snap} "
            f"{_cell(still[:, snap - 1])} ({c.text()})",
            c.above,
        )
    )
    for p3 in (p for p in plan.turbulence_turnover if p > 0):
        moving_end = res["turbulence", p3]["trace"][:, -late_n:].mean(axis=1)
        c = paired(moving_end, still_end)
        checks.append(
            (
                f"turbulence: with turnover p3 = {p3:g} the code knows more in {window}: {_cell(moving_end)} "
                f"above {_cell(still_end)} without ({c.text()})",
                c.above,
            )
        )

    # tables for the report
    fig_md = md_table(
        ["p1", *(f"p2 = {p2:g}" for p2 in plan.p2)],
        [[f"{p1:g}", *(_cell(k(p2, p1)) for p2 in plan.p2)] for p1 in plan.p1],
    )
    mix_md = md_table(
        [
            f"fast (p1 = {plan.fast_p1:g})",
            f"slow (p1 = {plan.slow_p1:g})",
            "mean p1",
            "knowledge (95%)",
            "median periods",
            "homogeneous at the mean p1",
            "median periods",
            "mix − homogeneous (paired 95%)",
        ],
        [
            [
                r.fast,
                r.slow,
                f"{r.mean_p1:.2f}",
                f"{r.knowledge:.3f} ({r.low:.3f}–{r.high:.3f})",
                f"{r.median_periods:g}",
                *(
                    (
                        f"{r.homogeneous:.3f} ({r.homogeneous_low:.3f}–{r.homogeneous_high:.3f})",
                        f"{r.homogeneous_median_periods:g}",
                        f"{r.mix_minus_homogeneous:+.3f} [{r.diff_low:+.3f}, {r.diff_high:+.3f}]",
                    )
                    if 0 < r.fast < n
                    else ("(is homogeneous)", "", "")
                ),
            ]
            for r in mixed.itertuples()
        ],
    )

    def turnover_md(column: str, low: str, high: str) -> str:
        t = turnover.set_index(["p1", "p3"])
        return md_table(
            ["p3", *(f"p1 = {p1:g}" for p1 in plan.turnover_p1)],
            [
                [
                    f"{p3:g}",
                    *(
                        f"{t.loc[(p1, p3), column]:.3f} ({t.loc[(p1, p3), low]:.3f}–{t.loc[(p1, p3), high]:.3f})"
                        for p1 in plan.turnover_p1
                    ),
                ]
                for p3 in plan.turnover
            ],
        )

    turn_md = turnover_md(f"period_{snap}", "low", "high")
    long_md = turnover_md("long_run", "long_run_low", "long_run_high")
    turb_md = md_table(
        ["p3", *(f"period {t}" for t in marks), f"{window} (95%)"],
        [
            [
                f"{r['p3']:g}",
                *(f"{r[f'period_{t}']:.3f}" for t in marks),
                f"{r['late']:.3f} ({r['late_low']:.3f}–{r['late_high']:.3f})",
            ]
            for r in turbulence.to_dict(orient="records")
        ],
    )
    findings = _march_findings(plan, res, figure1, versus_fast, turnover)
    text = {
        "figure1": fig_md,
        "mixed": mix_md,
        "turnover": turn_md,
        "long_run": long_md,
        "turbulence_md": turb_md,
        "checks": _check_lines(checks, ("✓", "✗")),
        "runs": plan.runs,
        "m": plan.dimensions,
        "n": n,
        "snap": snap,
        "horizon": plan.horizon,
        "late": plan.late,
        "late_from": plan.horizon - plan.late + 1,
        "window": window,
        "max_periods": plan.max_periods,
        "capped": capped,
        "total": total,
        "superior_left": int(sum(int(r["superior"].sum()) for r in settling)),
        **findings,
        **{
            f: getattr(plan, f)
            for f in (
                "slow_p1",
                "fast_p1",
                "mix_p2",
                "turnover_p2",
                "turbulence",
                "turbulence_p1",
                "turbulence_p2",
                "turbulence_horizon",
            )
        },
    }
    markdown = MARCH_TEXT.format(headline=MARCH_HEADLINE, **text)
    terminal = (
        f"March (1991), {plan.runs} runs per point; knowledge = the code's share of the {plan.dimensions} dimensions "
        f"matching reality, mean (95% interval)\n\nFigure 1: equilibrium knowledge\n{fig_md}\n\n"
        f"Figure 2: mixed learners (p2 = {plan.mix_p2:g})\n{mix_md}\n\n"
        f"Turnover: the code's knowledge at period {snap} (p2 = {plan.turnover_p2:g})\n{turn_md}\n\n"
        f"Turbulence p4 = {plan.turbulence:g} (p1 = {plan.turbulence_p1:g}, p2 = {plan.turbulence_p2:g})\n{turb_md}\n\n"
        f"Checks\n{_check_lines(checks, ('✓', '✗'))}"
    )
    summary = {
        "capped_runs": capped,
        "figure1": figure1.to_dict(orient="records"),
        "mixed": mixed.to_dict(orient="records"),
        "turnover": turnover.to_dict(orient="records"),
        "turbulence": turbulence.to_dict(orient="records"),
    }
    return Report(
        "march",
        {
            "figure1": figure1,
            "mixed": mixed,
            "turnover": turnover,
            "turbulence": turbulence,
            "turbulence_trace": turbulence_trace,
            "runs": runs,
        },
        markdown,
        terminal,
        checks,
        summary,
        lambda path: plot_march(figure1, mixed, turnover, turbulence_trace, plan, path),
    )


def _march_findings(
    plan: MarchPlan,
    res: dict[tuple, dict[str, np.ndarray]],
    figure1: pd.DataFrame,
    versus_fast: dict[int, Paired],
    turnover: pd.DataFrame,
) -> dict[str, str]:
    """What came out of each experiment, in words taken from the numbers only."""
    n, snap = plan.individuals, plan.snapshot
    lo1, hi1 = min(plan.p1), max(plan.p1)
    parts = []
    for p2, g in figure1.groupby("p2"):
        values = g.sort_values("p1")["knowledge"].to_numpy()
        down = int((np.diff(values) < 0).sum())
        parts.append(
            f"p2 = {p2:g}: {values[0]:.3f} at p1 = {lo1:g}, {values[-1]:.3f} at p1 = {hi1:g} "
            f"({down} of {len(values) - 1} steps in p1 lower the mean)"
        )
    by_p1 = figure1.groupby("p1")["knowledge"]
    spread = by_p1.max() - by_p1.min()
    periods = figure1.groupby("p1")["median_periods"].median()
    figure1_found = (
        "What came out: " + "; ".join(parts) + f". The spread between code learning rates is {spread[lo1]:.3f} "
        f"at p1 = {lo1:g} and {spread[hi1]:.3f} at p1 = {hi1:g}. Median periods to equilibrium: "
        f"{periods[lo1]:g} at p1 = {lo1:g}, {periods[hi1]:g} at p1 = {hi1:g}."
    )

    def k(key: tuple) -> np.ndarray:
        return res[key]["knowledge"]

    mixes = list(versus_fast)
    beats_fast = [f for f, c in versus_fast.items() if c.above]
    versus_slow = {f: paired(k(("mixed", f)), k(("mixed", 0))) for f in mixes}
    above_slow = [f for f, c in versus_slow.items() if c.above]
    below_slow = [f for f, c in versus_slow.items() if c.high < 0]
    means = [float(k(("mixed", f)).mean()) for f in sorted(plan.fast)]
    words = [f"{len(beats_fast)} of {len(mixes)} mixes know more than all {n} fast learners."]
    if above_slow:
        words.append(f"Mixes with {', '.join(map(str, above_slow))} fast learners know more than even all {n} slow.")
    elif mixes:
        level = "; ".join(f"{f} fast {c.diff:+.3f} [{c.low:+.3f}, {c.high:+.3f}]" for f, c in versus_slow.items())
        tied = [f for f in mixes if f not in below_slow]
        apart = f"; with {', '.join(map(str, tied))} fast learners a mix cannot be told apart from it" if tied else ""
        verdict = "a mix beats all-fast but not all-slow" if len(beats_fast) == len(mixes) else "no mix beats all-slow"
        words.append(
            f"No mix knows more than all {n} slow learners ({_cell(k(('mixed', 0)))}); run-by-run differences "
            f"from it: {level}{apart}. So {verdict}: all slow has the highest mean of the populations run here"
            + (", and every step toward more fast learners lowers the mean." if np.all(np.diff(means) < 0) else ".")
        )
    versus_same = {f: paired(k(("mixed", f)), k(("same mean", f))) for f in mixes}
    above_same = [f for f, c in versus_same.items() if c.above]
    below_same = [f for f, c in versus_same.items() if c.high < 0]
    words.append(
        f"Against a homogeneous population at the same average rate, {len(above_same)} of {len(mixes)} mixes know more "
        f"and {len(below_same)} less (last column; this comparison is reported, not checked)."
    )
    median = {f: float(np.median(res["mixed", f]["periods"])) for f in plan.fast}
    words.append(
        "Median periods to equilibrium: "
        + ", ".join(f"{f} fast {median[f]:g}" for f in sorted(plan.fast))
        + " (equilibrium waits for the slowest learner to conform)."
    )
    mixed_found = "What came out: " + " ".join(words)

    t = turnover.set_index(["p1", "p3"])
    heavy = max(plan.turnover)
    parts = []
    for p1 in plan.turnover_p1:
        for column, label in ((f"period_{snap}", f"at period {snap}"), ("long_run", "in the long run")):
            col = t.loc[p1][column]
            ups = downs = 0
            for p3 in plan.turnover:
                if p3 > 0:
                    key = (
                        (lambda r: r[:, snap - 1])
                        if column != "long_run"
                        else (lambda r: r[:, -plan.late :].mean(axis=1))
                    )
                    c = paired(key(res["turnover", p1, p3]["trace"]), key(res["turnover", p1, 0.0]["trace"]))
                    ups, downs = ups + c.above, downs + (c.high < 0)
            parts.append(
                f"p1 = {p1:g} {label}: {col[0.0]:.3f} without turnover, highest mean {col.max():.3f} at "
                f"p3 = {col.idxmax():g}, {col[heavy]:.3f} at p3 = {heavy:g}; {ups} of {len(col) - 1} turnover rates "
                f"raise it above none, {downs} lower it"
            )
    turnover_found = "What came out: " + "; ".join(parts) + "."
    words = []
    for p3 in plan.turbulence_turnover:
        mean = res["turbulence", p3]["trace"].mean(axis=0)
        peak = int(mean.argmax())
        words.append(
            f"p3 = {p3:g}: highest mean {mean[peak]:.3f} at period {peak + 1}, {mean[-1]:.3f} at period {len(mean)}"
        )
    turbulence_found = "What came out: " + "; ".join(words) + " (chance level: 0.5)."
    return {
        "figure1_found": figure1_found,
        "mixed_found": mixed_found,
        "turnover_found": turnover_found,
        "turbulence_found": turbulence_found,
    }


MARCH_HEADLINE = (
    "March's (1991) model of mutual learning between an organisational code and its members, run through the "
    "rules by which the organisation model's stakeholders and owners learn: silosim.needs.socialise (March's p1) "
    "and silosim.needs.learn_code (p2). Each table sets the measured orderings beside the paper's finding."
)

MARCH_TEXT = """\
{headline}

## How it is run

- **Reality**: m = {m} dimensions, each ±1 with equal chance (here traits 1 and 0).
- **Individuals**: n = {n}; each belief is March's 1, 0 or −1 with equal chance (here 1, no belief,
  `silosim.needs.UNKNOWN`, or 0). **The code** starts with no belief on any dimension.
- **Socialisation (p1)**: `needs.socialise`. Where the code holds a belief and an individual holds
  another or none, the individual adopts the code's with chance p1, independently per dimension
  (the paper's text; March's own program moved a belief one step at a time, −1 → 0 → 1,
  Christensen 2015, which is not done here). Mixed learners: p1 per individual.
- **Code learning (p2)**: `needs.learn_code`. The superior group is the individuals whose
  knowledge (`needs.match`) exceeds the code's, strictly (the paper's text; March's program compared
  the scores of actions instead, Christensen 2015). On each dimension the superior individuals who
  hold a belief vote; k = votes for the majority belief − votes for the other. If the majority is
  not the code's belief, the code adopts it with chance 1 − (1 − p2)^k; a tie (k = 0) changes
  nothing. March's footnote 1 counts "individuals ... who differ from the code ... minus the number
  who do not": the same k when individuals without a belief do not vote; where the code has no
  belief, the footnote is silent and `needs.learn_code` uses the majority's margin there too.
- **Order within a period**: first turbulence (each dimension of reality flips with chance p4) and
  turnover (each individual is replaced with chance p3 by a newcomer whose beliefs are drawn like
  the first individuals'), then both learning rules **from the same state**: the code learns from
  the superior group's beliefs as they stand while every individual is socialised toward the code
  as it stood before learning. Why: the paper has the code adapt "at the same time" and the code's
  chance of staying unchanged set by the majority "at the start of a time period" (footnote 1); a
  port of March's own program (Watts & Gilbert 2014) also takes the superior group and its votes
  before socialising; and neither rule then sees the other's change of the same period, so the
  order favours neither rate.
- **Equilibrium**: after every period both rules are applied at rate 1 to a copy. At rate 1 they
  change exactly what they could change at any positive rate, so when neither changes anything
  (every individual holds the code's belief wherever the code has one, and the code cannot learn:
  no superior individual, or their majority agrees with the code or ties) no later period changes
  anything, and the run stops. Knowledge is the code's share of the {m} dimensions equal to reality.
  Cap: {max_periods} periods; {capped} of {total} runs reached it; {superior_left} ended with superior
  individuals left whose votes tie.
- **Turnover and turbulence** never settle. The code's knowledge is read at period {snap}, the
  horizon of March's Figure 4 as re-creations read it (Watts & Gilbert 2014; the paper itself could
  not be consulted here), and, for the long run, averaged over periods {late_from}–{horizon}.
- **Runs and intervals**: {runs} runs per point (the paper's count is 80). Run j of every condition
  starts from the same reality and beliefs (only the learning draws differ), so conditions are
  compared run by run: a check holds when the 95% interval of the mean run-by-run difference
  (± 1.96 SE) lies on the side the paper states; each check also says whether the two means' own
  intervals overlap. Tables give mean (95% interval, ± 1.96 SE).

## Figure 1: learning rates

Published (March 1991, Figure 1, 80 runs per point): equilibrium knowledge falls as socialisation
speeds up (higher p1), since slow learners keep the diversity the code learns from; faster code
learning (higher p2) gives more knowledge when socialisation is slow.

Equilibrium knowledge of the code:

{figure1}

{figure1_found}

## Figure 2: mixed learners

Published (March 1991, Figure 2, p2 = {mix_p2}): a population mixing slow (p1 = {slow_p1}) and fast
(p1 = {fast_p1}) learners reaches higher equilibrium knowledge than one of fast learners only; March
reads the mix as joining the fast learners' speed to the slow learners' exploration.

{mixed}

{mixed_found}

## Turnover (Figure 4): a stable reality

Published (March 1991, Figure 4): in a stable reality moderate turnover raises the code's
knowledge above none; too much lowers it again. p2 = {turnover_p2}. The code's knowledge at period {snap}:

{turnover}

Long run, mean over periods {late_from}–{horizon}:

{long_run}

{turnover_found}

## Turbulence

Published (March 1991, turbulence, p4): once everyone has been socialised, a code in a changing
reality has no one left to learn from and its knowledge decays; turnover brings in newcomers who
keep it learning. p4 = {turbulence}, p1 = {turbulence_p1}, p2 = {turbulence_p2}, {turbulence_horizon} periods:

{turbulence_md}

{turbulence_found}

## Checks

{checks}

## What it does not show

The paper's curves are not matched number for number, and levels are not checked: the paper
prints no table of values, and its program differs from its text (gradual socialisation;
superiority judged on the outcomes of actions). A re-creation of that program (Workiewicz 2019,
after Christensen 2015) reaches higher knowledge, about 0.95 at p1 = 0.1, p2 = 0.5. This docking
runs the text's rules, the ones the organisation model uses, and checks the orderings the paper
states.
"""


def plot_march(
    figure1: pd.DataFrame,
    mixed: pd.DataFrame,
    turnover: pd.DataFrame,
    trace: pd.DataFrame,
    plan: MarchPlan,
    path: Path,
) -> None:
    """The four experiments, one panel each, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def bars(df: pd.DataFrame, mean: str, low: str, high: str) -> list[pd.Series]:
        return [df[mean] - df[low], df[high] - df[mean]]

    fig, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(12, 9))
    for p2, g in figure1.groupby("p2"):
        a.errorbar(
            g["p1"], g["knowledge"], yerr=bars(g, "knowledge", "low", "high"), fmt="o-", capsize=2, label=f"p2 = {p2:g}"
        )
    a.set(xlabel="socialisation rate p1", ylabel="equilibrium knowledge of the code", title="Figure 1: learning rates")
    a.legend(fontsize=8)
    b.errorbar(
        mixed["fast"],
        mixed["knowledge"],
        yerr=bars(mixed, "knowledge", "low", "high"),
        fmt="o-",
        capsize=2,
        label=f"mix: p1 = {plan.fast_p1:g} for the fast, {plan.slow_p1:g} for the rest",
    )
    if "homogeneous" in mixed:  # a plan with mixes
        same = mixed.dropna(subset=["homogeneous"])
        b.errorbar(
            same["fast"],
            same["homogeneous"],
            yerr=bars(same, "homogeneous", "homogeneous_low", "homogeneous_high"),
            fmt="s--",
            capsize=2,
            label="homogeneous at the same mean p1",
        )
    b.set(
        xlabel=f"fast learners (of {plan.individuals})",
        ylabel="equilibrium knowledge of the code",
        title=f"Figure 2: mixed learners, p2 = {plan.mix_p2:g}",
    )
    b.legend(fontsize=8)
    for p1, g in turnover.groupby("p1"):
        line = c.errorbar(
            g["p3"],
            g[f"period_{plan.snapshot}"],
            yerr=bars(g, f"period_{plan.snapshot}", "low", "high"),
            fmt="o-",
            capsize=2,
            label=f"p1 = {p1:g}, period {plan.snapshot}",
        )
        c.plot(g["p3"], g["long_run"], "--", color=line[0].get_color(), label=f"p1 = {p1:g}, long run")
    c.set(xlabel="turnover p3", ylabel="knowledge of the code", title=f"Turnover (Figure 4), p2 = {plan.turnover_p2:g}")
    c.legend(fontsize=8)
    for p3, g in trace.groupby("p3"):
        d.plot(g["period"], g["knowledge"], label=f"p3 = {p3:g}")
        d.fill_between(g["period"], g["low"], g["high"], alpha=0.25)
    d.axhline(0.5, color="grey", lw=0.8, ls=":")
    d.set(
        xlabel="period",
        ylabel="knowledge of the code",
        title=f"Turbulence p4 = {plan.turbulence:g}, p1 = {plan.turbulence_p1:g}, p2 = {plan.turbulence_p2:g}",
    )
    d.legend(fontsize=8)
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
        model: ``axelrod`` (Axelrod 1997, Table 2 and territory size),
            ``deffuant`` (silosim has no bounded confidence: docks its drift
            against Klemm et al. 2003 instead, and says so) or ``march``
            (March 1991: equilibrium knowledge against the learning rates,
            mixed learners, turnover and turbulence, through
            :mod:`silosim.needs`).
        runs: runs per cell (default: the published count, 10 for Axelrod's
            and the drift docking, 80 for March's).
        jobs: worker processes (default: all cores). Results do not depend on it.
        out: report folder (default: ``results/dock-MODEL``).
        quick: a short version (under a minute).
        progress: show a progress bar.

    Returns:
        0 when every check that cannot be wrong holds, 1 when one fails, 2 on bad input.
    """
    from silosim import __version__

    if model not in ("axelrod", "deffuant", "march"):
        print(f"silosim dock: unknown model {model!r} (axelrod, deffuant or march)", file=sys.stderr)
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
    elif model == "march":
        mplan = MARCH_QUICK if quick else MARCH_FULL
        mplan = mplan if runs is None else replace(mplan, runs=runs)
        title = "# Docking: March (1991), Exploration and Exploitation in Organizational Learning"
        tasks, build = march_tasks(mplan), lambda res: march_report(res, mplan)
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
        "line": f"`{command}` · silosim {__version__} · {wall:.0f} s on {jobs} process(es) · seed {SEEDS[model]}",
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
