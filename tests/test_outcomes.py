"""Outcomes that can favour silos: needs, organisational learning (March 1991), fit, knowledge, diversity."""

import math

import numpy as np
import pytest

from silosim import metrics, needs
from silosim.metrics import MEASURES
from silosim.model import SiloModel
from silosim.scenario import ScenarioError, from_dict, load

# ---------------------------------------------------------------- the measures, worked by hand


def test_fit_of_a_community_weights_practices_by_effort_and_needs_by_members():
    practice = np.array([[0, 0, 0, 0], [1, 1, 1, 1]])  # owner, a posting department
    effort = np.array([[3.0], [1.0]])  # the owner spends 3 of the 4 exchanges
    need = np.array([[0, 0, 1, 1], [0, 0, 0, 0]])  # group A, group B
    members = np.array([[10.0], [30.0]])
    # owner: matches A on 2/4, B on 4/4 -> 0.25*0.5 + 0.75*1 = 0.875; poster: A 2/4, B 0 -> 0.125
    assert metrics.community_fit(practice, effort, need, members)[0] == pytest.approx(0.75 * 0.875 + 0.25 * 0.125)


def test_the_organisations_fit_is_the_member_weighted_mean_and_skips_empty_communities():
    practice = np.array([[0, 0], [1, 1]])
    effort = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    need = np.array([[0, 0]])
    members = np.array([[30.0, 10.0, 0.0]])  # the third community has no stakeholder
    per = metrics.community_fit(practice, effort, need, members)
    assert per[:2].tolist() == [1.0, 0.0] and math.isnan(per[2])
    assert metrics.fit(practice, effort, need, members) == pytest.approx(0.75)


def test_knowledge_is_the_best_practice_the_organisation_holds_used_or_not():
    practice = np.array([[0, 0], [1, 1]])
    effort = np.array([[1.0], [0.0]])  # only the wrong practice is used
    need = np.array([[1, 1]])
    members = np.array([[5.0]])
    assert metrics.fit(practice, effort, need, members) == 0.0
    assert metrics.knowledge(practice, need, members) == 1.0


def test_practice_diversity_counts_ways_of_working_per_feature():
    assert metrics.practice_diversity(np.array([[1, 2], [1, 2], [1, 2]])) == 1.0
    assert metrics.practice_diversity(np.array([[1, 2], [3, 2], [4, 2]])) == pytest.approx((3 + 1) / 2)


# ---------------------------------------------------------------- needs and turbulence


def test_needs_overlap_sets_how_much_groups_agree():
    rng = np.random.default_rng(0)
    same, _, _ = needs.draw_needs(5, 40, 10, 1.0, rng)
    assert (same == same[0]).all()
    own, shared, _ = needs.draw_needs(50, 40, 10, 0.0, rng)
    assert not shared.any()
    agree = (own[:, None] == own[None]).mean(axis=2)[np.triu_indices(50, 1)].mean()
    assert agree == pytest.approx(0.1, abs=0.02)  # independent needs agree by chance 1/traits


def test_an_explicit_need_is_kept_and_not_shared():
    rng = np.random.default_rng(1)
    drawn, shared, _ = needs.draw_needs(2, 3, 4, 1.0, rng, [None, [3, 2, 1]])
    assert drawn[1].tolist() == [3, 2, 1] and not shared[1].any() and shared[0].all()


def test_turbulence_changes_a_groups_need_at_its_rate_whatever_the_overlap():
    for overlap in (0.0, 1.0):
        rng = np.random.default_rng(2)
        drawn, shared, base = needs.draw_needs(8, 6, 5, overlap, rng)
        changes = sum(needs.change_needs(drawn, shared, base, 0.1, 5, rng) for _ in range(2000))
        assert changes / (2000 * 8) == pytest.approx(0.1, rel=0.15)
    same, shared, base = needs.draw_needs(4, 6, 5, 1.0, rng)
    for _ in range(50):
        needs.change_needs(same, shared, base, 0.5, 5, rng)
    assert (same == same[0]).all()  # shared needs change together


# ---------------------------------------------------------------- March's rules


def test_socialisation_adopts_the_code_where_it_differs_and_holds_a_belief():
    x = np.zeros((3, 3), dtype=np.int16)
    assert needs.socialise(x, np.array([1, needs.UNKNOWN, 0]), 1.0, np.random.default_rng(0)) == 3
    assert x.tolist() == [[1, 0, 0]] * 3
    assert needs.socialise(x, np.array([2, 2, 2]), 0.0, np.random.default_rng(0)) == 0


def test_code_learning_follows_the_superior_majority_by_its_margin():
    code = np.array([[0, 0, 1], [1, 1, 1]], dtype=np.int16)
    heard = np.array([[[1, 0, 1], [1, -1, 0], [1, 1, 1]], [[0, 0, 0], [0, 0, 0], [1, 1, 1]]], dtype=np.int16)
    superior = np.array([[True, True, False], [True, True, True]])
    assert needs.learn_code(code, heard, superior, 1.0, np.random.default_rng(0)) == 4
    # row 0: feature 0 two votes for 1; feature 1 the code's own; feature 2 a tie (k = 0): kept
    assert code.tolist() == [[1, 0, 1], [0, 0, 0]]
    code = np.zeros((1, 1), dtype=np.int16)
    votes = np.array([[[1], [1], [1], [0]]], dtype=np.int16)  # k = 3 - 1 = 2
    changed = [needs.learn_code(code.copy(), votes, np.ones((1, 4), bool), 0.5, np.random.default_rng(s))
               for s in range(4000)]  # fmt: skip
    assert np.mean(changed) == pytest.approx(1 - 0.5**2, abs=0.03)


# ---------------------------------------------------------------- scenario keys


def test_a_need_of_the_wrong_length_or_trait_is_refused_at_its_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "organization:\n  departments: [{name: a, headcount: 1}]\n  stakeholders:\n"
        "    - {group: g, count: 5, needs: [1, 2]}\n    - {group: h, count: 5, needs: [0, 1, 2, 3, 10]}\n"
        "communities: [{name: c, involvement: {a: 1}, members: {g: 1, h: 1}}]\n"
    )
    with pytest.raises(ScenarioError) as err:
        load(path)
    text = str(err.value)
    assert ":4: organization.stakeholders[g].needs: expected 5 traits (dynamics.features), got 2" in text
    assert ":5: organization.stakeholders[h].needs[4]: expected a trait in 0 … 9 (dynamics.traits), got 10" in text


def test_needs_cannot_change_in_an_event():
    data = _organisation(0.0, 0.0, "most_involved", 0)
    data["events"] = [{"at": 10, "set": {"dynamics.needs_overlap": 0.5}}]
    with pytest.raises(ScenarioError, match="needs_overlap"):
        from_dict(data)


# ---------------------------------------------------------------- in the model


def test_the_outcomes_are_measured_and_fit_never_exceeds_knowledge():
    model = SiloModel(from_dict(_organisation(0.5, 0.02, "glue", 3, steps=150)))
    while model.running:
        model.step()
    assert {"fit", "knowledge", "practice_diversity"} <= set(MEASURES)
    frame = model.datacollector.get_model_vars_dataframe()
    assert (frame["fit"] <= frame["knowledge"] + 1e-9).all()
    assert 0 < model.measures["fit"] < 1 and 1 <= model.measures["practice_diversity"] <= 4


def test_stakeholders_learn_their_needs_and_owners_learn_from_them():
    data = _organisation(0.0, 0.0, "most_involved", 4, steps=200)
    data["dynamics"]["need_noise"] = 1.0  # everyone starts from random traits
    for group in data["organization"]["stakeholders"]:
        group["activity"] = 0.8  # they learn their needs as they act
    model = SiloModel(from_dict(data))
    first = metrics.fit(model.world.culture[: model.n_actors], model.world.effort, model.needs, model.group_members)
    while model.running:
        model.step()
    assert first < 0.4 < 0.8 < model.measures["fit"]


def _organisation(overlap: float, turbulence: float, rule: str, seed: int, steps: int = 300) -> dict:
    """Four departments, each the main one in one community; four audiences, one per community (disjoint)."""
    groups = (("buyers", 0.8), ("partners", 0.4), ("staff", 0.1), ("users", 0.02))
    involvement = ({"marketing": 0.9, "sales": 0.1}, {"sales": 0.9, "marketing": 0.1}, {"hr": 0.9}, {"support": 0.9})
    return {
        "name": "disjoint_audiences",
        "seed": seed,
        "steps": steps,
        "organization": {
            "departments": [
                {"name": "marketing", "headcount": 20, "reach": 0.5, "openness": 0.5},
                *({"name": n, "headcount": 20, "reach": 0.3, "openness": 0.3} for n in ("sales", "hr", "support")),
            ],
            "stakeholders": [{"group": g, "count": 400, "activity": a} for g, a in groups],
        },
        "communities": [
            {"name": f"c_{g}", "involvement": inv, "members": {g: 0.6}}
            for (g, _), inv in zip(groups, involvement, strict=True)
        ],
        "ownership": {"rule": rule, "glue": "marketing"},
        "dynamics": {"needs_overlap": overlap, "turbulence": turbulence},
    }


def _fit(args: tuple) -> float:
    model = SiloModel(from_dict(_organisation(*args)))
    while model.running:
        model.step()
    return model.measures["fit"]


def _glue_minus_delegation(overlap: float, turbulence: float, seeds: int = 40) -> tuple[float, float]:
    """Paired (common seeds) mean of glue − delegation fit and its 95% half-width."""
    glue = np.array([_fit((overlap, turbulence, "glue", s)) for s in range(seeds)])
    mi = np.array([_fit((overlap, turbulence, "most_involved", s)) for s in range(seeds)])
    d = glue - mi
    return float(d.mean()), float(1.96 * d.std(ddof=1) / np.sqrt(seeds))


def test_with_disjoint_audiences_whose_needs_differ_delegation_fits_at_least_as_well_as_glue():
    mean, half = _glue_minus_delegation(0.0, 0.0)
    assert mean + half <= 0  # the whole interval of glue − delegation is at or below 0
    assert mean < -0.1  # the glue imposes one practice on audiences that need different ones


def test_with_shared_needs_and_turbulence_glue_fits_better_than_delegation():
    mean, half = _glue_minus_delegation(1.0, 0.02)
    assert mean - half > 0  # what one audience teaches crosses to the others


def test_an_actor_among_many_peers_learns_from_a_sample_of_them():
    data = {
        "name": "crowded",
        "steps": 5,
        "organization": {
            "departments": [{"name": f"d{i}", "headcount": 2} for i in range(60)],  # 59 peers each, above 32
            "stakeholders": [{"group": "g", "count": 300, "activity": 0.9}],
        },
        "communities": [{"name": "c", "involvement": {f"d{i}": 0.5 for i in range(60)}, "members": {"g": 1.0}}],
        "dynamics": {"drift": 0.0},  # only learning changes a practice
    }
    model = SiloModel(from_dict(data))
    before = model.world.culture[:60].copy()
    while model.running:
        model.step()
    assert (model.world.culture[:60] != before).any()  # they learnt
    assert 0 <= model.measures["fit"] <= 1
