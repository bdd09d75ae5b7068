"""Stakeholders' needs and organisational learning, after March (1991).

March's "Exploration and exploitation in organizational learning" has an
external **reality** (here: each stakeholder group's **needs**, one trait per
feature), individuals with beliefs about it (here: stakeholders' viewpoints
and the practices of the departments and community managers an owner talks
to) and an organisational **code** (here: an owner's practice, the ways of
working its communities meet). Two rates drive it:

- **socialisation** (``p1``): individuals adopt the code where they differ
  from it (:func:`socialise`); the model uses the same rule for
  stakeholders learning their own needs (their "code" is reality);
- **code learning** (``p2``): the code adopts the majority view of the
  individuals who outperform it (:func:`learn_code`); the model's owners
  learn this way from the stakeholders and peers they meet.

Beliefs are integer traits; a negative trait is "no belief" (March's 0).
``silosim dock march`` runs March's own experiments through these functions.
"""

from __future__ import annotations

import numpy as np

UNKNOWN = -1  # no belief on a feature (March's 0)


def draw_needs(
    n_groups: int,
    features: int,
    traits: int,
    overlap: float,
    rng: np.random.Generator,
    explicit: list[list[int] | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each group's needs: a shared base need taken on each feature with chance ``overlap``, else its own.

    Args:
        n_groups: stakeholder groups.
        features: features per need.
        traits: traits per feature.
        overlap: chance that a group's need on a feature is the shared one (1: all groups agree;
            0: independent needs, which still agree by chance 1/traits).
        rng: the random generator.
        explicit: per group, a need given in the scenario (``None`` to draw it); an explicit need
            is the group's own on every feature.

    Returns:
        ``(needs, shared, base)``: (groups × features) int16 needs, (groups × features) bool
        "this feature follows the shared base need", and the (features,) base need.
    """
    base = rng.integers(0, traits, size=features).astype(np.int16)
    own = rng.integers(0, traits, size=(n_groups, features)).astype(np.int16)
    shared = rng.random((n_groups, features)) < overlap
    for g, given in enumerate(explicit or []):
        if given is not None:
            own[g], shared[g] = given, False
    return np.where(shared, base, own).astype(np.int16), shared, base


def change_needs(
    needs: np.ndarray, shared: np.ndarray, base: np.ndarray, rate: float, traits: int, rng: np.random.Generator
) -> int:
    """Turbulence (March's p4), in place: needs change, and a change to a shared need is shared.

    With chance ``rate`` per step the base need takes a new trait on one random
    feature, and every group sharing that feature follows; with chance ``rate``
    per group, a random feature is redrawn, if it is the group's own. Each
    group's need thus changes on one feature with chance about ``rate`` per
    step, whatever the overlap.

    Returns:
        The number of (group, feature) needs that changed.
    """
    if rate <= 0:
        return 0
    n_g, n_f = needs.shape
    changed = 0
    if rng.random() < rate:
        f = rng.integers(n_f)
        base[f] = (base[f] + rng.integers(1, traits)) % traits  # a different trait
        followers = shared[:, f]
        needs[followers, f] = base[f]
        changed += int(followers.sum())
    groups = np.flatnonzero(rng.random(n_g) < rate)
    f = rng.integers(0, n_f, groups.size)
    own = ~shared[groups, f]
    groups, f = groups[own], f[own]
    needs[groups, f] = (needs[groups, f] + rng.integers(1, traits, groups.size)) % traits
    return changed + groups.size


def match(beliefs: np.ndarray, reality: np.ndarray) -> np.ndarray:
    """Share of features on which beliefs equal reality (March's knowledge), over the last axis."""
    return (beliefs == reality).mean(axis=-1)


def socialise(individuals: np.ndarray, code: np.ndarray, rate: float | np.ndarray, rng: np.random.Generator) -> int:
    """March's socialisation, in place: where an individual differs from the code, it adopts it with chance ``rate``.

    Each (individual, feature) where the code holds a belief and the
    individual another is changed independently. The model calls it for
    stakeholders learning their group's needs (the code is reality there).

    Args:
        individuals: (..., features) integer beliefs, changed in place.
        code: beliefs broadcastable to ``individuals``; negative = none (nothing to adopt).
        rate: chance per differing feature, a number or an array broadcastable to
            ``individuals`` (per individual: shape (..., 1)), for mixed learners.
        rng: the random generator.

    Returns:
        The number of beliefs changed.
    """
    code = np.broadcast_to(code, individuals.shape)
    differ = np.nonzero((individuals != code) & (code >= 0))  # one draw per differing belief only
    rate = np.broadcast_to(rate, individuals.shape)[differ]
    take = rng.random(rate.size) < rate
    change = tuple(axis[take] for axis in differ)
    individuals[change] = code[change]
    return int(take.sum())


def learn_code(
    code: np.ndarray, individuals: np.ndarray, superior: np.ndarray, rate: float, rng: np.random.Generator
) -> int:
    """March's code learning, in place, for a batch of codes.

    On each feature, among the individuals who outperform the code
    (``superior``) and hold a belief there, let ``k`` be how many more hold
    the most common belief than the next most common (all the others, with
    two beliefs as in March). If that belief is not the code's, the code
    adopts it with chance ``1 − (1 − rate)^k``. A tie at the top gives
    ``k = 0``: no change.

    Args:
        code: (codes × features) integer beliefs, changed in place.
        individuals: (codes × individuals × features) beliefs each code can learn from;
            negative = none.
        superior: (codes × individuals) bool, the individuals who outperform their code.
        rate: March's p2.
        rng: the random generator.

    Returns:
        The number of (code, feature) beliefs changed.
    """
    n_f = individuals.shape[2]
    r, i, f = np.nonzero(superior[:, :, None] & (individuals >= 0))
    if r.size == 0:
        return 0
    belief = individuals[r, i, f].astype(np.int64)
    span = int(belief.max()) + 1
    keys, counts = np.unique((r * n_f + f) * span + belief, return_counts=True)
    slot, value = keys // span, keys % span  # slot = code row × features + feature
    order = np.lexsort((-counts, slot))
    slot, value, counts = slot[order], value[order], counts[order]
    first = np.r_[True, slot[1:] != slot[:-1]]
    top = np.flatnonzero(first)
    has_second = np.r_[top[1:], slot.size] - top > 1
    runner_up = np.where(has_second, counts[np.minimum(top + 1, slot.size - 1)], 0)
    k = counts[top] - runner_up
    rows, feats, majority = slot[top] // n_f, slot[top] % n_f, value[top]
    adopt = (code[rows, feats] != majority) & (rng.random(top.size) < 1 - (1 - rate) ** k)
    code[rows[adopt], feats[adopt]] = majority[adopt]
    return int(adopt.sum())
