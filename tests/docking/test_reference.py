"""Docking, reduced: the fast engine and the per-agent Mesa reference agree in distribution.

The full docking is ``python benchmarks/dock_reference.py`` (40 seeds); this
runs 30 seeds of the same 120-step organisation and compares, measure by
measure (cross_reach, silo_count, largest_merged_share, ei_index), the two
engines' final windowed measures with a two-sample KS test. The seeds are
fixed, so the outcome is deterministic: a failure means a change moved one
engine's distribution away from the other's. The power checks show that
these seeds are enough to tell a real change apart (one per measure, run on
the fast engine against the unchanged reference).

The docking and the per-agent reference are modules of the package
(:mod:`silosim.docking.reference`, :mod:`silosim.docking.reference_model`),
so the test imports them like any other.
"""

import networkx as nx
import numpy as np
import pytest

from silosim.docking import reference as dock_reference
from silosim.docking.reference_model import ReferenceModel
from silosim.scenario import from_dict

SEEDS, STEPS = 30, dock_reference.STEPS


@pytest.fixture(scope="module")
def docking():
    data = dock_reference.bridged(steps=STEPS)
    s = dock_reference.samples(data, SEEDS)
    return data, s, {r["measure"]: r for r in dock_reference.compare(s["fast"], s["reference"])}


@pytest.fixture(scope="module")
def power(docking):
    data, s, _ = docking
    return {r["measure"]: r for r in dock_reference.power(data, s["reference"], SEEDS)}


def test_the_docked_measures():
    assert dock_reference.MEASURES == ("cross_reach", "silo_count", "largest_merged_share", "ei_index")


@pytest.mark.parametrize("measure", dock_reference.MEASURES)
def test_measure_varies_across_seeds_so_the_test_can_reject(docking, measure):
    _, s, _ = docking
    for engine in ("fast", "reference"):
        values = s[engine][measure]
        assert not np.isnan(values).any()
        assert len(np.unique(values)) > 1, f"{engine} {measure} is constant: the KS test would be vacuous"


@pytest.mark.parametrize("measure", dock_reference.MEASURES)
def test_ks_does_not_reject_same_distribution(docking, measure):
    _, _, rows = docking
    r = rows[measure]
    assert r["p"] >= dock_reference.ALPHA, dock_reference.table([r])


@pytest.mark.parametrize("measure", dock_reference.MEASURES)
def test_ks_with_these_seeds_does_reject_a_real_change(power, measure):
    """Power check: the fast engine under a real change is told apart from the unchanged reference."""
    r = power[measure]
    assert r["p"] < dock_reference.ALPHA, dock_reference.table([r])


def test_reference_is_plain_per_agent_mesa_on_the_same_population():
    data = dock_reference.bridged(steps=30)
    model = ReferenceModel(from_dict(data))
    groups = data["organization"]["stakeholders"]
    assert len(model.agents) == 3 + 1 + sum(g["count"] for g in groups)
    assert all(callable(getattr(a, "step", None)) for a in model.agents)
    assert all(isinstance(a.known, set) for a in model.agents)
    assert isinstance(model.ties, nx.DiGraph)
    born = []
    while model.running:
        model.step()
        born.append(model.next_item)
    m = model.measure()
    assert set(dock_reference.MEASURES) | {"verdict", "time_to_insight", "relay_load"} <= m.keys()
    assert model.ties.number_of_edges() > 0
    assert max(d for _, d in model.ties.out_degree()) <= data.get("dynamics", {}).get("max_ties", 8)
    # items live exactly item_lifetime steps of exchanges: the live ones were born in the last item_lifetime steps
    lifetime = data["dynamics"]["item_lifetime"]
    assert set(model.items) == set(range(born[-lifetime - 1], model.next_item))
    assert all(set(feed) <= set(model.items) for feed in model.feeds.values())
