"""Ownership rules on a small organisation whose assignment is worked out by hand.

The organisation: departments marketing (openness 0.5), hr (0.2) and rnd (0.8);
community managers ``cm_mkt`` (employed by marketing, capacity 2) and ``cm_free``
(hired outside the org chart, capacity 2); communities, largest first:

============  ====  =========  ===  ===  ======================
community     size  marketing  hr   rnd  most involved
============  ====  =========  ===  ===  ======================
brand          50     0.9      —    0.3  marketing
talent         30     0.4      0.8  —    hr
lab            20     0.2      0.1  0.7  rnd
============  ====  =========  ===  ===  ======================

Sizes: customers (100) join brand at 0.5 and lab at 0.1; employees (50) join
talent at 0.6 and lab at 0.2. Posting of a non-owner = involvement × openness:

============  =====  ======  ====
department    brand  talent  lab
============  =====  ======  ====
marketing     0.45   0.2     0.1
hr            0      0.16    0.02
rnd           0.24   0       0.56
============  =====  ======  ====
"""

from __future__ import annotations

import copy
import inspect
import typing

import numpy as np
import pytest

from silosim import rules, scenario

DEPTS = ["marketing", "hr", "rnd"]
CMS = ["cm_mkt", "cm_free"]
COMMUNITIES = ["brand", "talent", "lab"]
ACTORS = DEPTS + CMS

BASE_POSTING = np.array(
    [
        [0.45, 0.2, 0.1],
        [0.0, 0.16, 0.02],
        [0.24, 0.0, 0.56],
    ]
)

ORG = {
    "organization": {
        "departments": [
            {"name": "marketing", "openness": 0.5},
            {"name": "hr", "openness": 0.2},
            {"name": "rnd", "openness": 0.8},
        ],
        "community_managers": [
            {"name": "cm_mkt", "home": "marketing", "capacity": 2},
            {"name": "cm_free", "home": None, "capacity": 2},
        ],
        "stakeholders": [
            {"group": "customers", "count": 100, "external": True},
            {"group": "employees", "count": 50, "external": False},
        ],
    },
    "communities": [
        {
            "name": "brand",
            "audience": "external",
            "involvement": {"marketing": 0.9, "rnd": 0.3},
            "members": {"customers": 0.5},
        },
        {
            "name": "talent",
            "audience": "internal",
            "involvement": {"hr": 0.8, "marketing": 0.4},
            "members": {"employees": 0.6},
        },
        {
            "name": "lab",
            "audience": "mixed",
            "involvement": {"rnd": 0.7, "marketing": 0.2, "hr": 0.1},
            "members": {"customers": 0.1, "employees": 0.2},
        },
    ],
}


def build(ownership: dict, **changes) -> scenario.Scenario:
    """The organisation above with an ownership section; `changes` are dotted-key overrides."""
    data = copy.deepcopy(ORG)
    data["ownership"] = ownership
    for key, value in changes.items():
        data = scenario.apply_override(data, key.replace("__", "."), value)
    return scenario.from_dict(data)


def matrix(rows: dict[str, list[str]], names: list[str]) -> np.ndarray:
    """Bool (names × communities) matrix, True at the named communities of each row."""
    return np.array([[c in rows.get(name, []) for c in COMMUNITIES] for name in names], dtype=bool)


def check(
    assignment: rules.Assignment,
    owners: list[str],
    posting: np.ndarray,
    animates: dict[str, list[str]],
    brokers: dict[str, list[str]],
    council: list[str],
) -> None:
    assert assignment.owners == owners
    np.testing.assert_allclose(assignment.posting, posting)
    assert assignment.posting.shape == (len(DEPTS), len(COMMUNITIES))
    np.testing.assert_array_equal(assignment.animates, matrix(animates, CMS))
    np.testing.assert_array_equal(assignment.brokers, matrix(brokers, ACTORS))
    assert assignment.council == council


# --------------------------------------------------------------------------- registry


def test_rules_registry_matches_scenario_rule_names():
    assert set(typing.get_args(scenario.Ownership.model_fields["rule"].annotation)) == set(rules.RULES)
    for name, rule in rules.RULES.items():
        assert rule.name == name
        assert issubclass(rule, rules.OwnershipRule)


@pytest.mark.parametrize("rule", list(rules.RULES.values()), ids=list(rules.RULES))
def test_each_rule_class_has_its_own_docstring(rule):
    doc = rule.__dict__.get("__doc__")
    assert doc and doc.strip(), f"{rule.__name__} has no docstring"
    assert inspect.getdoc(rule) == inspect.cleandoc(doc)


def test_helpers_sizes_and_involvement():
    org = build({"rule": "most_involved"})
    np.testing.assert_allclose(rules.community_sizes(org), [50, 30, 20])
    np.testing.assert_allclose(
        rules.involvement_matrix(org),
        [[0.9, 0.4, 0.2], [0.0, 0.8, 0.1], [0.3, 0.0, 0.7]],
    )
    assert rules.most_involved_owners(org) == ["marketing", "hr", "rnd"]


# --------------------------------------------------------------------------- each rule


def test_most_involved():
    org = build({"rule": "most_involved"})
    check(
        rules.assign(org),
        owners=["marketing", "hr", "rnd"],
        # owners post fully; others involvement × openness
        posting=[[1.0, 0.2, 0.1], [0.0, 1.0, 0.02], [0.24, 0.0, 1.0]],
        # cm_mkt animates marketing's communities (brand only); cm_free the two without a CM, largest first
        animates={"cm_mkt": ["brand"], "cm_free": ["talent", "lab"]},
        # owners broker their own; cm_mkt for its employer's community; cm_free wherever it animates
        brokers={
            "marketing": ["brand"],
            "hr": ["talent"],
            "rnd": ["lab"],
            "cm_mkt": ["brand"],
            "cm_free": ["talent", "lab"],
        },
        council=[],
    )


def test_most_involved_tie_goes_to_the_first_listed_department():
    org = build({"rule": "most_involved"}, communities__lab__involvement__marketing=0.7)
    assert rules.assign(org).owners == ["marketing", "hr", "marketing"]
    # cm_mkt now has two marketing communities to animate, largest first
    np.testing.assert_array_equal(rules.assign(org).animates[0], [True, False, True])


def test_single_owner():
    org = build({"rule": "single_owner", "owner": "hr"})
    check(
        rules.assign(org),
        owners=["hr", "hr", "hr"],
        posting=[[0.45, 0.2, 0.1], [1.0, 1.0, 1.0], [0.24, 0.0, 0.56]],
        # marketing owns nothing, so its CM animates nothing; cm_free takes the two largest
        animates={"cm_free": ["brand", "talent"]},
        brokers={"hr": COMMUNITIES, "cm_free": ["brand", "talent"]},
        council=[],
    )


def test_glue():
    org = build({"rule": "glue", "glue": "hr"})
    check(
        rules.assign(org),
        owners=["marketing", "hr", "rnd"],
        # most_involved posting, and the glue department posts fully everywhere
        posting=[[1.0, 0.2, 0.1], [1.0, 1.0, 1.0], [0.24, 0.0, 1.0]],
        animates={"cm_mkt": ["brand"], "cm_free": ["talent", "lab"]},
        brokers={
            "marketing": ["brand"],
            "hr": COMMUNITIES,
            "rnd": ["lab"],
            "cm_mkt": ["brand"],
            "cm_free": ["talent", "lab"],
        },
        council=[],
    )


def test_glue_department_that_also_owns():
    assignment = rules.assign(build({"rule": "glue", "glue": "marketing"}))
    assert assignment.owners == ["marketing", "hr", "rnd"]
    np.testing.assert_allclose(assignment.posting, [[1.0, 1.0, 1.0], [0.0, 1.0, 0.02], [0.24, 0.0, 1.0]])
    np.testing.assert_array_equal(assignment.brokers[0], [True, True, True])


def test_dedicated_cms():
    org = build({"rule": "dedicated_cms"})
    check(
        rules.assign(org),
        # largest first to the CM with most spare capacity (first on a tie): brand→cm_mkt (2 vs 2),
        # talent→cm_free (1 vs 2), lab→cm_mkt (1 vs 1)
        owners=["cm_mkt", "cm_free", "cm_mkt"],
        # no department owns: everyone posts involvement × openness
        posting=BASE_POSTING,
        animates={"cm_mkt": ["brand", "lab"], "cm_free": ["talent"]},
        # a CM brokers what it owns, whether or not it has a home department
        brokers={"cm_mkt": ["brand", "lab"], "cm_free": ["talent"]},
        council=[],
    )


def test_dedicated_cms_leftovers_stay_with_the_most_involved_department():
    org = build({"rule": "dedicated_cms"}, organization__community_managers__cm_free__capacity=0)
    check(
        rules.assign(org),
        owners=["cm_mkt", "cm_mkt", "rnd"],
        posting=[[0.45, 0.2, 0.1], [0.0, 0.16, 0.02], [0.24, 0.0, 1.0]],
        animates={"cm_mkt": ["brand", "talent"]},
        brokers={"rnd": ["lab"], "cm_mkt": ["brand", "talent"]},
        council=[],
    )


def test_federated():
    org = build({"rule": "federated"})
    check(
        rules.assign(org),
        owners=["marketing", "hr", "rnd"],
        posting=[[1.0, 0.2, 0.1], [0.0, 1.0, 0.02], [0.24, 0.0, 1.0]],
        animates={"cm_mkt": ["brand"], "cm_free": ["talent", "lab"]},
        brokers={
            "marketing": ["brand"],
            "hr": ["talent"],
            "rnd": ["lab"],
            "cm_mkt": ["brand"],
            "cm_free": ["talent", "lab"],
        },
        council=["marketing", "hr", "rnd"],
    )


def test_federated_council_holds_only_owners_in_department_order():
    # marketing now outbids hr on talent: hr owns nothing and stays out of the council
    org = build({"rule": "federated"}, communities__talent__involvement__marketing=0.9)
    assignment = rules.assign(org)
    assert assignment.owners == ["marketing", "marketing", "rnd"]
    assert assignment.council == ["marketing", "rnd"]
    # the council follows the departments' order, not the communities'
    org = build({"rule": "federated"}, communities__brand__involvement__rnd=0.95)
    assert rules.assign(org).council == ["hr", "rnd"]


def test_explicit():
    org = build({"rule": "explicit", "owners": {"brand": "cm_mkt", "talent": "marketing", "lab": "hr"}})
    check(
        rules.assign(org),
        owners=["cm_mkt", "marketing", "hr"],
        posting=[[0.45, 1.0, 0.1], [0.0, 0.16, 1.0], [0.24, 0.0, 0.56]],
        # cm_mkt animates marketing's talent, plus brand which it owns; cm_free the two with no CM yet
        animates={"cm_mkt": ["brand", "talent"], "cm_free": ["brand", "lab"]},
        brokers={
            "marketing": ["talent"],
            "hr": ["lab"],
            # cm_mkt: brand as its owner, talent as its employer's
            "cm_mkt": ["brand", "talent"],
            "cm_free": ["brand", "lab"],
        },
        council=[],
    )


def test_home_cm_does_not_broker_for_another_owner():
    # explicit: marketing's CM owns nothing and marketing owns nothing; a home CM only relays for its employer
    org = build({"rule": "explicit", "owners": {"brand": "rnd", "talent": "hr", "lab": "rnd"}})
    assignment = rules.assign(org)
    assert not assignment.animates[0].any()
    assert not assignment.brokers[DEPTS.index("marketing")].any()
    assert not assignment.brokers[len(DEPTS) + CMS.index("cm_mkt")].any()


@pytest.mark.parametrize("name", sorted(rules.RULES))
def test_assign_dispatches_on_the_rule_name(name):
    ownership = {
        "rule": name,
        "owner": "hr",
        "glue": "hr",
        "owners": {"brand": "cm_mkt", "talent": "marketing", "lab": "hr"},
    }
    org = build(ownership)
    direct = rules.RULES[name]().assign(org)
    via = rules.assign(org)
    assert via.owners == direct.owners
    np.testing.assert_array_equal(via.posting, direct.posting)
    np.testing.assert_array_equal(via.brokers, direct.brokers)
    # invariants: owners post fully, owners and CMs-owners are brokers, brokers are owners/glue/animating CMs
    for c, owner in enumerate(via.owners):
        if owner in DEPTS:
            assert via.posting[DEPTS.index(owner), c] == 1.0
            assert via.brokers[DEPTS.index(owner), c]
        else:
            assert via.animates[CMS.index(owner), c]
            assert via.brokers[len(DEPTS) + CMS.index(owner), c]
    assert not (via.brokers[len(DEPTS) :] & ~via.animates).any()
    assert via.posting.min() >= 0 and via.posting.max() <= 1


# --------------------------------------------------------------------------- relay rights


def test_relay_rights_by_policy():
    assignment = rules.assign(build({"rule": "most_involved"}))
    # five actors (3 departments, 2 CMs) then two stakeholders
    participates = np.array(
        [
            [True, True, True],  # marketing
            [False, True, False],  # hr
            [True, False, True],  # rnd
            [True, False, False],  # cm_mkt
            [False, True, False],  # cm_free: takes no part in lab though it brokers there
            [True, False, True],  # a customer
            [False, True, True],  # an employee
        ]
    )
    open_rights = rules.relay_rights("open", participates, assignment.brokers)
    np.testing.assert_array_equal(open_rights, participates)
    assert open_rights is not participates
    open_rights[0, 0] = False
    assert participates[0, 0]  # a copy, not a view

    owner_only = rules.relay_rights("owner_only", participates, assignment.brokers)
    expected = np.zeros_like(participates)
    expected[0] = [True, False, False]  # marketing: brand only (talent, lab it merely joins)
    expected[1] = [False, True, False]  # hr: talent
    expected[2] = [False, False, True]  # rnd: lab
    expected[3] = [True, False, False]  # cm_mkt: brand
    expected[4] = [False, True, False]  # cm_free: talent (lab is brokered but not joined)
    np.testing.assert_array_equal(owner_only, expected)
    assert owner_only.dtype == bool

    closed = rules.relay_rights("closed", participates, assignment.brokers)
    assert closed.shape == participates.shape
    assert not closed.any()


def test_relay_rights_owner_only_under_glue():
    assignment = rules.assign(build({"rule": "glue", "glue": "hr"}))
    participates = np.ones((6, 3), dtype=bool)
    rights = rules.relay_rights("owner_only", participates, assignment.brokers)
    np.testing.assert_array_equal(rights[1], [True, True, True])  # the glue department relays everywhere
    np.testing.assert_array_equal(rights[:5], assignment.brokers)
    assert not rights[5].any()  # stakeholders never relay under owner_only
