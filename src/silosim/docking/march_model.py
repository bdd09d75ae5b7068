"""March's (1991) model of mutual learning in organisations, many runs at once, through silosim's learning rules.

An organisation is a reality (m dimensions), n individuals' beliefs and the
organisational code; each period individuals are socialised toward the code
(:func:`silosim.needs.socialise`, March's p1) while the code learns from the
individuals who know more than it does (:func:`silosim.needs.learn_code`,
p2), the rules by which the organisation model's stakeholders and owners
learn. Runs are batched the simple way: every run of a condition is one row
of the same arrays, and each period applies both rules to all of them at once
(they never interact, so nothing needs ordering).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from silosim import needs
from silosim.docking.lattice import Ticker

MARCH_MAX_PERIODS = 10_000  # a run still able to change after this many periods counts as capped


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
