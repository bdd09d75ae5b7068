"""Docking, reduced: the fast engine and the per-agent Mesa reference agree in distribution.

The full docking is ``python benchmarks/dock_reference.py`` (40 seeds, 200
steps); this runs 12 seeds of 100 steps on the same organisation. The seeds
are fixed, so the outcome is deterministic: a failure means a change moved
one engine's distribution away from the other's.

``benchmarks/`` is not a package; the test puts it on ``sys.path`` itself,
so plain ``pytest`` from the repository root finds ``dock_reference`` and
``reference_mesa``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import dock_reference
from reference_mesa import ReferenceModel

from silosim.scenario import from_dict

SEEDS, STEPS = 12, 100


@pytest.fixture(scope="module")
def docking():
    data = dock_reference.bridged(steps=STEPS)
    s = dock_reference.samples(data, SEEDS)
    return s, {r["measure"]: r for r in dock_reference.compare(s["fast"], s["reference"])}


@pytest.mark.parametrize("measure", dock_reference.MEASURES)
def test_measure_varies_across_seeds_so_the_test_can_reject(docking, measure):
    s, _ = docking
    for engine in ("fast", "reference"):
        values = s[engine][measure]
        assert not np.isnan(values).any()
        assert len(np.unique(values)) > 1, f"{engine} {measure} is constant: the KS test would be vacuous"


@pytest.mark.parametrize("measure", dock_reference.MEASURES)
def test_ks_does_not_reject_same_distribution(docking, measure):
    _, rows = docking
    r = rows[measure]
    assert r["p"] >= dock_reference.ALPHA, dock_reference.table([r])


def test_reference_is_plain_per_agent_mesa_on_the_same_population():
    data = dock_reference.bridged(steps=3)
    model = ReferenceModel(from_dict(data))
    groups = data["organization"]["stakeholders"]
    assert len(model.agents) == 3 + 1 + sum(g["count"] for g in groups)
    assert all(callable(getattr(a, "step", None)) for a in model.agents)
    for _ in range(3):
        model.step()
    m = model.measure()
    assert {"silo_count", "ei_index", "cross_reach"} <= m.keys()
    assert model.ties.number_of_edges() > 0
    assert max(d for _, d in model.ties.out_degree()) <= data.get("dynamics", {}).get("max_ties", 8)


def test_ks_with_these_seeds_does_reject_a_real_change(docking):
    """Power check: the reference under owner_only cross-posting is told apart from the engine under open."""
    s, _ = docking
    data = dock_reference.bridged(steps=STEPS, policy="owner_only")
    owner_only = [dock_reference.final_measures("reference", data, seed)["cross_reach"] for seed in range(SEEDS)]
    assert ks_2samp(s["fast"]["cross_reach"], owner_only).pvalue < dock_reference.ALPHA
