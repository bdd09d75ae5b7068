"""Axelrod's (1997) culture model on bounded square lattices, many runs at once: the dockings' engine.

Each run is one lattice; a batch holds many runs as numpy arrays and steps
them together with the organisation model's own interaction rule,
:func:`silosim.dynamics.axelrod_exchange` (and, for the drift docking,
its drift, :func:`silosim.dynamics.drift_traits`). Within one lattice events
are applied strictly in the order they were drawn (pick a site, then one of
its neighbours, uniformly), as in the paper. To apply many of them in one
vectorised call, each step takes from every lattice the longest run of its
next events in which no event reads a site that an earlier one of them may
have changed; those events commute, so applying them at once gives exactly
the sequential result. An event between two identical sites, or two sites
sharing nothing, cannot change anything (tested in ``tests/test_dynamics.py``);
such events are counted but not passed to :func:`axelrod_exchange`; every
other event is, with its own uniform draws. Undrawn events carry over to the
next step, so the event sequence is an i.i.d. sequence, unchanged by the
batching.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from silosim.dynamics import axelrod_exchange, drift_traits


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


def events_estimate(side: int) -> float:
    """Events until a run freezes at F=5, q=15, roughly ∝ side⁴ (measured: ~8e4 at 10×10, ~5e7 at 50×50)."""
    return 8e4 * (side / 10) ** 4


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
            tick(((runs - batch.runs) + np.minimum(batch.events / events_estimate(side), 0.9).sum()) / runs)
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
