"""Memory estimate, available memory and the refusal of scenarios that cannot fit."""

import json
import math
import resource
import subprocess
import sys
import time
import tracemalloc

import pytest

from silosim import resources
from silosim.resources import (
    MEMORY_SHARE,
    RUNTIME_BASE_BYTES,
    address_space_allowance,
    available_memory,
    cgroup_limit_files,
    estimate_memory,
    memory_problem,
    parse_cgroup_limit,
    parse_rlimit,
    size_text,
    smallest_limit,
)
from silosim.scenario import MAX_LIVE_ITEMS, Scenario, ScenarioError, load, to_dict
from tests.helpers import ROOT

GiB = 2**30
MiB = 2**20


def default_data() -> dict:
    return to_dict(load(ROOT / "scenarios" / "default.yaml"))


def build(data: dict) -> Scenario:
    """A scenario from raw data, schema-checked only (no memory check on the way)."""
    return Scenario.model_validate(data)


def scaled(stakeholders: int, **dynamics) -> Scenario:
    data = default_data()
    total = sum(g["count"] for g in data["organization"]["stakeholders"])
    for g in data["organization"]["stakeholders"]:
        g["count"] = round(g["count"] * stakeholders / total)
    data["dynamics"].update(dynamics)
    return build(data)


def billion_stakeholders() -> Scenario:
    data = default_data()
    data["organization"]["stakeholders"] = [
        {"group": f"g{i}", "count": 50_000_000, "external": True, "activity": 0.5} for i in range(20)
    ]
    data["communities"] = [
        {
            "name": "all",
            "audience": "mixed",
            "involvement": {"marketing": 0.5},
            "members": {f"g{i}": 0.5 for i in range(20)},
        }
    ]
    return build(data)


def huge_headcount() -> Scenario:
    """headcount 10**12 (the schema may cap it lower: set without validation, as the estimate must still hold)."""
    s = build(default_data())
    hr = s.organization.departments[1].model_copy(update={"headcount": 10**12, "reach": 1.0})
    departments = [s.organization.departments[0], hr, *s.organization.departments[2:]]
    return s.model_copy(update={"organization": s.organization.model_copy(update={"departments": departments})})


def huge_cm_exchanges() -> Scenario:
    s = build(default_data())
    return s.model_copy(update={"dynamics": s.dynamics.model_copy(update={"cm_exchanges": 10**9})})


# --------------------------------------------------------------------------- against a measured peak

CHILD = """
import json, resource, sys
from pathlib import Path
from silosim.model import SiloModel
from silosim.resources import estimate_memory
from silosim.scenario import Scenario

def resident():
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()

data = json.loads(sys.argv[1])
warm = json.loads(sys.argv[1])
for g in warm["organization"]["stakeholders"]:
    g["count"] = 20
warm["steps"] = 11
model = SiloModel(Scenario.model_validate(warm))  # loads the compiled loops
while model.running:
    model.step()
del model
scenario = Scenario.model_validate(data)
Path("/proc/self/clear_refs").write_text("5")  # reset the peak: compiling the loops (cold cache) peaks higher
base = resident()
model = SiloModel(scenario)
while model.running:
    model.step()
model.collect()
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) * 1024
print(json.dumps({"estimate": estimate_memory(scenario), "measured": peak - base}))
"""


def test_estimate_is_within_a_factor_of_the_measured_peak():
    data = to_dict(scaled(200_000))
    data["steps"] = 15
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(data)], capture_output=True, text=True, timeout=120, check=True
    )
    row = json.loads(done.stdout)
    assert row["measured"] > 50 * MiB  # the model was really built (about 0.5 KiB per stakeholder)
    assert 0.7 <= row["estimate"] / row["measured"] <= 2.0, row


# --------------------------------------------------------------------------- the estimate's arithmetic


def test_hand_counted_quantities():
    data = default_data()
    data["organization"]["stakeholders"] = [{"group": "fans", "count": 1000, "external": True, "activity": 0.5}]
    data["organization"]["community_managers"] = [{"name": "cm", "home": None, "capacity": 2, "brokerage": 0.5}]
    data["communities"] = [
        {"name": "a", "audience": "mixed", "involvement": {"marketing": 1.0}, "members": {"fans": 0.5}},
        {"name": "b", "audience": "mixed", "involvement": {"hr": 1.0}, "members": {"fans": 0.2}},
        {"name": "c", "audience": "mixed", "involvement": {"sales": 1.0}, "members": {}},
    ]
    q = resources._quantities(build(data), {})
    assert q.rows == 5 + 1 + 1000
    assert q.memberships == pytest.approx(700)  # 1000 × (0.5 + 0.2)
    assert q.active == pytest.approx(1000 * 0.5 * (1 - 0.5 * 0.8))  # only those who joined one act
    assert q.department_exchanges == pytest.approx(30 * 0.6 + 15 * 0.4 + 40 * 0.3 + 25 * 0.3 + 35 * 0.2)
    assert q.cm_exchanges == 5 * 2  # cm_exchanges × min(capacity, communities)
    assert q.tie_slots == 1006 * 8
    assert q.records == 300 // 10 + 2


def test_default_estimate_is_a_few_mib():
    # 5,906 agents at roughly 0.5-1 KiB each, plus the fixed part
    assert 4 * MiB < estimate_memory(build(default_data())) < 12 * MiB


def test_estimate_grows_with_every_size():
    base = estimate_memory(scaled(100_000))
    assert estimate_memory(scaled(10_000)) < base < estimate_memory(scaled(1_000_000))
    assert estimate_memory(scaled(100_000, max_ties=32)) > base
    assert estimate_memory(scaled(100_000, features=40)) > base
    assert estimate_memory(scaled(100_000, cm_exchanges=10_000)) > base
    more = to_dict(scaled(100_000))
    more["organization"]["departments"][0]["headcount"] = 1_000_000
    assert estimate_memory(build(more)) > base
    longer = to_dict(scaled(100_000))
    longer["steps"], longer["metrics"]["every"] = 100_000, 1
    assert estimate_memory(build(longer)) > base
    sizes = [estimate_memory(scaled(n)) for n in (10**3, 10**4, 10**5, 10**6, 10**7)]
    assert sizes == sorted(sizes)
    # linear in stakeholders, but for the item store: every agent keeps a bit per item slot, and the slots
    # grow with the stakeholders' insights (quadratic); without insights the store keeps its 1,024 slots
    flat = [estimate_memory(scaled(n, insight_rate=0.0)) for n in (10**6, 10**7)]
    assert flat[1] / flat[0] == pytest.approx(10, rel=0.05)
    items = [resources._estimate(scaled(n)).contributions["items"] for n in (10**6, 10**7)]
    assert items[1] / items[0] == pytest.approx(100, rel=0.05)


def test_an_event_raising_cm_exchanges_counts_at_its_largest():
    data = default_data()
    data["organization"]["community_managers"] = [
        {"name": f"cm{i}", "home": None, "capacity": 5, "brokerage": 0.5} for i in range(100)
    ]
    plain = estimate_memory(build(data))
    data["events"] = [{"at": 50, "set": {"dynamics.cm_exchanges": 10_000}}]
    raised = build(data)
    # 100 CMs × 5 communities × 10,000 exchanges a step, ~84 B an exchange while they are chosen
    assert estimate_memory(raised) > plain + 5_000_000 * 80
    problem = memory_problem(raised, available=256 * MiB)
    assert problem.path == ("events", 0, "set", "dynamics.cm_exchanges")
    assert "events[0].set.dynamics.cm_exchanges (10,000)" in problem.message


def test_estimate_is_arithmetic_only():
    scenario = billion_stakeholders()
    tracemalloc.start()
    estimate_memory(scenario)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 * MiB
    started = time.perf_counter()
    for _ in range(200):
        memory_problem(scenario, available=24 * GiB)
    assert (time.perf_counter() - started) / 200 < 0.005  # well under a millisecond, measured


# --------------------------------------------------------------------------- refusal


def test_the_crash_cases_are_refused():
    cases = {
        "stakeholders": (billion_stakeholders(), ("organization", "stakeholders", 0, "count"), "stakeholders"),
        "headcount": (huge_headcount(), ("organization", "departments", 1, "headcount"), "departments[hr].headcount"),
        "cm_exchanges": (huge_cm_exchanges(), ("dynamics", "cm_exchanges"), "dynamics.cm_exchanges"),
    }
    for name, (scenario, path, named) in cases.items():
        problem = memory_problem(scenario, available=24 * GiB)
        assert problem is not None, name
        assert problem.path == path, name
        assert named in problem.message, name
        assert problem.message.startswith("needs about "), name
        assert "this machine allows 24.0 GiB (a run may use 80%: 19.2 GiB)" in problem.message
        assert problem.needed > problem.allowed == int(0.8 * 24 * GiB)
        assert str(problem) == problem.message
    assert memory_problem(huge_headcount(), available=24 * GiB).needed > 7 * 2**40  # 10**12 × reach 1 × 8 B+
    billion = memory_problem(billion_stakeholders(), available=24 * GiB)
    assert "1,000,000,000 stakeholders in 20 groups" in billion.message
    assert "known items" in billion.message  # their insights need a huge item store, a bit per agent each
    no_insights = billion_stakeholders()
    no_insights = no_insights.model_copy(
        update={"dynamics": no_insights.dynamics.model_copy(update={"insight_rate": 0.0})}
    )
    assert 200 * GiB < memory_problem(no_insights, available=24 * GiB).needed < 2000 * GiB  # 0.4-2 KiB each


def test_the_largest_valid_cm_load_is_refused():
    data = default_data()
    data["organization"]["community_managers"] = [
        {"name": f"cm{i}", "home": None, "capacity": 64, "brokerage": 0.5} for i in range(1000)
    ]
    data["communities"] = [
        {"name": f"c{i}", "audience": "mixed", "involvement": {"marketing": 0.5}, "members": {"consumers": 0.1}}
        for i in range(64)
    ]
    data["dynamics"]["cm_exchanges"] = 10_000
    problem = memory_problem(build(data), available=24 * GiB)  # 1000 × 64 × 10,000 exchanges a step
    assert problem.driver == "cm_exchanges"
    assert "640,000,000 community manager exchanges per step" in problem.message


def test_shipped_scenarios_fit_a_modest_machine():
    paths = sorted((ROOT / "scenarios").glob("*.yaml"))
    assert len(paths) >= 5
    for path in paths:
        scenario = load(path)
        assert memory_problem(scenario, available=2 * GiB) is None, path
        assert memory_problem(scenario) is None, path  # this machine


def test_available_memory_is_honoured():
    scenario = build(default_data())
    needed = estimate_memory(scenario) + RUNTIME_BASE_BYTES
    assert memory_problem(scenario, available=math.ceil(needed / MEMORY_SHARE) + 1) is None
    problem = memory_problem(scenario, available=needed)  # all of it, but a run may use 80 % only
    assert problem is not None
    assert problem.needed == needed
    assert problem.allowed == int(MEMORY_SHARE * needed)
    small = memory_problem(scenario, available=200 * MiB)
    assert "this machine allows 200.0 MiB (a run may use 80%: 160.0 MiB)" in small.message
    assert "even without them the rest does not fit" in small.message  # the runtime alone takes 256 MiB


def test_what_would_fit_is_about_right():
    problem = memory_problem(scaled(10_000_000), available=4 * GiB)
    fits = int(problem.message.rsplit("about ", 1)[1].split(" stakeholders")[0].replace(",", ""))
    assert memory_problem(scaled(int(fits * 0.9)), available=4 * GiB) is None
    assert memory_problem(scaled(int(fits * 1.1)), available=4 * GiB) is not None


# --------------------------------------------------------------------------- the item store


def test_item_slots_cover_the_largest_state_of_the_run():
    data = default_data()
    plain = resources.item_slots(build(data))
    assert plain == max(1024, resources.item_slots(build(data)))
    data["events"] = [{"at": 50, "set": {"dynamics.insight_rate": 0.02}}]
    raised = build(data)
    after = build(default_data() | {"dynamics": {**default_data()["dynamics"], "insight_rate": 0.02}})
    assert resources.item_slots(raised) == resources.item_slots(after) > plain
    # the estimate counts that store: a bit per slot for every agent
    assert (
        estimate_memory(raised) - estimate_memory(build(default_data()))
        > 5900 * (resources.item_slots(raised) - plain) / 8
    )


def test_an_item_store_over_the_limit_is_refused_whatever_the_memory():
    too_many = scaled(3_000_000)
    assert resources.item_slots(too_many) > MAX_LIVE_ITEMS
    problem = memory_problem(too_many, available=1024 * GiB)  # fits a large machine, not the item store
    assert problem.driver == "item_slots"
    assert problem.path == ("organization", "stakeholders", 0, "count")
    assert problem.needed == resources.item_slots(too_many) and problem.allowed == MAX_LIVE_ITEMS
    assert problem.message.startswith(f"needs an item store of {problem.needed:,} slots, more than the 65,536")
    fits = int(problem.message.split("about ")[-2].split(" stakeholders")[0].replace(",", ""))
    assert (
        resources.item_slots(scaled(int(fits * 0.95))) <= MAX_LIVE_ITEMS < resources.item_slots(scaled(int(fits * 1.1)))
    )
    assert "or dynamics.item_lifetime (100): up to about" in problem.message


def test_the_key_that_raises_the_live_items_is_named():
    long = memory_problem(scaled(100_000, item_lifetime=5_000), available=1024 * GiB)
    assert long.path == ("dynamics", "item_lifetime")
    assert "dynamics.item_lifetime (5,000); up to about" in long.message
    steps = int(long.message.rsplit("up to about ", 1)[1].split(" steps")[0].replace(",", ""))
    assert resources.item_slots(scaled(100_000, item_lifetime=steps)) <= MAX_LIVE_ITEMS
    assert resources.item_slots(scaled(100_000, item_lifetime=int(steps * 1.1))) > MAX_LIVE_ITEMS
    chatty = memory_problem(scaled(100_000, insight_rate=0.1), available=1024 * GiB)
    assert chatty.path == ("dynamics", "insight_rate")
    assert "dynamics.insight_rate (0.1); up to about" in chatty.message
    data = default_data()
    data["events"] = [{"at": 10, "set": {"dynamics.item_lifetime": 100_000}}]
    later = memory_problem(build(data), available=1024 * GiB)
    assert later.path == ("events", 0, "set", "dynamics.item_lifetime")
    assert "events[0].set.dynamics.item_lifetime (100,000)" in later.message
    assert memory_problem(scaled(100_000), available=1024 * GiB) is None


def test_validation_refuses_an_item_store_over_the_limit_at_the_key(tmp_path):
    path = tmp_path / "long.yaml"
    text = (
        (ROOT / "scenarios" / "default.yaml")
        .read_text()
        .replace("ownership:", "dynamics:\n  item_lifetime: 50000\nownership:")
    )
    path.write_text(text)
    line = text.splitlines().index("  item_lifetime: 50000") + 1
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert f"{path}:{line}: dynamics.item_lifetime: needs an item store of" in str(caught.value)
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert f"{path}:{line}:" in done.stderr and "more than the 65,536 it can hold" in done.stderr
    assert "Traceback" not in done.stderr


def test_size_text():
    assert size_text(512) == "512 B"
    assert size_text(1536) == "1.5 KiB"
    assert size_text(24 * GiB) == "24.0 GiB"
    assert size_text(8 * 10**12) == "7.3 TiB"


# --------------------------------------------------------------------------- available memory


def test_cgroup_limit_parsing():
    assert parse_cgroup_limit("max\n") is None
    assert parse_cgroup_limit("1073741824\n") == GiB
    assert parse_cgroup_limit(None) is None  # missing file
    assert parse_cgroup_limit("9223372036854771712\n") is None  # cgroup v1: no limit
    assert parse_cgroup_limit("") is None
    assert parse_cgroup_limit("lots") is None


def test_rlimit_parsing():
    assert parse_rlimit(resource.RLIM_INFINITY) is None
    assert parse_rlimit(4 * GiB) == 4 * GiB
    # an address-space limit leaves what is not already reserved, on top of what is resident
    assert address_space_allowance(4 * GiB, virtual=3 * GiB, resident=GiB // 2) == GiB + GiB // 2
    assert address_space_allowance(4 * GiB, virtual=5 * GiB, resident=GiB // 2) == GiB // 2


def test_smallest_limit_wins():
    physical = 32 * GiB
    assert smallest_limit(physical, [None, "max\n"], None) == physical
    assert smallest_limit(physical, ["max\n", "2147483648\n", None], None) == 2 * GiB
    assert smallest_limit(physical, ["2147483648\n"], GiB) == GiB
    assert smallest_limit(physical, ["68719476736\n"], None) == physical  # a cgroup above the machine


def test_cgroup_files_of_this_process(tmp_path):
    v2 = cgroup_limit_files("0::/user.slice/run.scope\n", root=tmp_path)
    assert tmp_path / "memory.max" in v2
    assert tmp_path / "user.slice" / "run.scope" / "memory.max" in v2
    assert tmp_path / "user.slice" / "memory.max" in v2
    v1 = cgroup_limit_files("5:cpu:/x\n4:memory:/docker/abc\n", root=tmp_path)
    assert tmp_path / "memory" / "docker" / "abc" / "memory.limit_in_bytes" in v1
    assert not any("cpu" in str(f) for f in v1)
    (tmp_path / "user.slice").mkdir()
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "user.slice" / "memory.max").write_text("3221225472\n")  # the parent's 3 GiB applies
    texts = [resources._read(f) for f in v2]  # run.scope's own file is missing
    assert None in texts
    assert smallest_limit(24 * GiB, texts, None) == 3 * GiB


def test_available_memory_of_this_process():
    import os

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < available_memory() <= physical


def test_available_memory_reads_an_address_space_limit():
    # in a child: lowering RLIMIT_AS cannot be undone in this process
    code = (
        "import resource; from silosim.resources import available_memory\n"
        "resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))\n"
        "print(available_memory())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert int(done.stdout) < 8 * GiB


def test_runs_that_fit_side_by_side_caps_a_sweeps_workers():
    default = load(ROOT / "scenarios" / "default.yaml")
    one = resources.estimate_memory(default) + resources.RUNTIME_BASE_BYTES
    room = lambda runs: int(runs * one / resources.MEMORY_SHARE) + 1  # noqa: E731
    assert resources.runs_that_fit([default], available=room(3)) == 3
    assert resources.runs_that_fit([default], available=room(3) - 2 * one) == 1  # fewer than 2 fit
    assert resources.runs_that_fit([default], available=1) == 1  # never below one: validation refuses those
