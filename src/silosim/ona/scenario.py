"""A what-if scenario built from an observed network: the organisation as it is, ready for ``silosim run`` and sweeps.

:func:`scenario_from_network` writes a commented scenario YAML and, beside it, the ties file its
``initial_ties`` key names (``<stem>_ties.csv``). How the data becomes a scenario:

- **People.** Every observed person is one internal stakeholder (``external: false``), in the
  stakeholder group of its ``--group-by`` value (``count``: the group's size). Within a group,
  persons are numbered 1 … count in node order; the ties file names each by group and index and
  carries its observed ``id``.
- **Departments.** The model needs departments to own and animate communities: one per group,
  named after it, ``headcount`` the group's size, ``reach`` the group's share of tie weight that
  leaves it (the data's only sign of how far a group reaches out; at least 0.05 so that every
  department takes part; 0.3, the schema's default, for a group without ties), ``openness`` the
  schema's default 0.5 (the data says nothing of willingness to post elsewhere: a guess to check).
- **Communities.** One per ``--community-by`` value, else one per group (each group's own
  community: the silo the data shows), ``audience: internal``; ``members``: the share of each group
  in it (from the attributes); ``involvement``: 0.9 (a default, to check) for the department
  whose group has most members there, and for the others 0.9 × their members over that group's
  (so without ``--community-by`` each department is involved in its own community only).
- **Memberships are exact.** The ties file gives every person's community, so the model's draws
  of memberships from the shares are replaced for every observed person (:mod:`silosim.world`).
- **Ties.** Each observed tie becomes a tie both ends hold (two rows of the ties file: the model
  keeps a tie in its holder's slot, and a person can only start an exchange through ties it holds),
  living in the holder's community (the community both ends share, if they do; otherwise the
  holder's own: it reaches its partner from there). A directed network's ties i → j and j → i are
  one tie of their summed weight (the model's ties have no direction, and its E-I, like the
  observed one, reads the ties as undirected). Weights are scaled linearly so that the strongest
  tie weighs 1 (the model's weights lie in (``tie_floor``, 1]: use adds ``reinforcement × (1 −
  weight)``, every step takes ``tie_decay``, under ``tie_floor`` a tie drops); linear, so the
  weighted E-I is unchanged; an unweighted network's ties all weigh 1. Ties scaled under
  ``tie_floor`` count in the first measurement and drop at the first step (the YAML says how many).
- **Slots.** ``dynamics.max_ties`` is raised to the largest number of partners a person has (at
  least the default 8, at most the schema's 64); a person with more partners than 64 keeps its 64
  strongest ties (the YAML says how many were dropped).

What the first measurement reproduces: the model's E-I (:func:`silosim.metrics.ei_index`, over each
agent's primary community: where it holds most tie weight) before any step equals the observed E-I
over the community partition to within 1e-6 (exactly for an unweighted network; the model keeps
weights as float32, whose rounding of each weight, at most 6e-8 of it, moves a ratio of sums by
less than that), as long as every person's primary
community is its own (each person holds all its ties in its own community, so it is, unless a
person has no tie inside its community and all its ties go to one community listed before its
own, where the tie between the two is broken the model's way) and no person lost ties to the
64-slot cap. The YAML states both values, computed as the model computes them.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from silosim import metrics
from silosim.ona.read import ObservedNetwork
from silosim.scenario import Dynamics, Problem, ScenarioError, default_name

INVOLVEMENT = 0.9  # the most involved department's involvement in a community (a default)
MIN_REACH = 0.05  # a department's reach at least this, so that it takes part
MAX_TIES = 64  # the schema's bound on dynamics.max_ties
_DEFAULTS = Dynamics()


def scenario_from_network(
    network: ObservedNetwork,
    groups: np.ndarray,
    group_names: list[str],
    communities: tuple[np.ndarray, list[str]] | None,
    out_yaml: Path,
) -> Path:
    """Write a scenario of the observed organisation (commented YAML) and the ties file it starts from.

    Args:
        network: the observed network.
        groups: each node's group (0 … G − 1), from ``--group-by`` (:func:`silosim.ona.read.partition`).
        group_names: the groups' names.
        communities: each node's community and the communities' names (``--community-by``); None: one
            community per group.
        out_yaml: the scenario file to write; the ties file is written beside it as ``<stem>_ties.csv``.

    Returns:
        ``out_yaml``. Both files are written only once the scenario they make validates
        (:func:`silosim.scenario.load`); an existing file of either name is replaced.
    """
    from silosim.scenario import load  # looked up when called: the written files are checked as a user's would be

    out_yaml = Path(out_yaml)
    built = _build(network, np.asarray(groups, dtype=np.int64), list(group_names), communities)
    ties_name = f"{out_yaml.stem}_ties.csv"
    out_yaml.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_yaml.name}.partial-", dir=out_yaml.parent))
    try:
        _write_csv(built.table, scratch / ties_name)
        (scratch / out_yaml.name).write_text(_yaml(built, network, out_yaml, ties_name), encoding="utf-8")
        try:
            load(scratch / out_yaml.name)
        except ScenarioError as exc:  # named as the files would have been (e.g. too big for this machine's memory)
            final = {
                str(scratch / out_yaml.name): str(out_yaml),
                str(scratch / ties_name): str(out_yaml.parent / ties_name),
            }
            raise ScenarioError(
                [Problem(final.get(p.source, p.source), p.line, p.path, p.message) for p in exc.problems]
            ) from None
        os.replace(scratch / ties_name, out_yaml.parent / ties_name)
        os.replace(scratch / out_yaml.name, out_yaml)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out_yaml


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    """A CSV of the table, empty fields for missing values, floats in their shortest exact form.

    Arrow's writer: pandas' ``to_csv`` took 15 times as long for a million ties.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    pa_csv.write_csv(pa.Table.from_pandas(table, preserve_index=False), str(path))


class _Built:
    """Everything the scenario file says, computed from the data."""

    def __init__(self, **values: object):
        self.__dict__.update(values)


def _build(
    network: ObservedNetwork,
    groups: np.ndarray,
    group_names: list[str],
    communities: tuple[np.ndarray, list[str]] | None,
) -> _Built:
    n = network.n
    comm, comm_names = (groups, group_names) if communities is None else communities
    comm = np.asarray(comm, dtype=np.int64)
    n_g, n_c = len(group_names), len(comm_names)
    g_safe, c_safe = safe_names(group_names), safe_names(comm_names)
    sizes = np.bincount(groups, minlength=n_g)
    order = np.argsort(groups, kind="stable")
    index = np.empty(n, dtype=np.int64)
    index[order] = np.arange(n) - np.searchsorted(groups[order], groups[order]) + 1
    # the ties, each once (i < j), of the weight both directions sum to, scaled so the strongest weighs 1
    graph = sp.csr_array(network.graph)
    both = graph + graph.T if network.directed else graph
    upper = sp.coo_array(sp.triu(both, k=1))
    keep = upper.data > 0  # a tie of weight 0 or less is no tie the model can hold
    i, j, w = upper.row[keep].astype(np.int64), upper.col[keep].astype(np.int64), upper.data[keep].astype(float)
    scaled = w / w.max() if w.size else w
    holder, partner, weight = np.r_[i, j], np.r_[j, i], np.r_[scaled, scaled]
    degree = np.bincount(holder, minlength=n)
    max_degree = int(degree.max()) if n else 0
    max_ties = min(MAX_TIES, max(_DEFAULTS.max_ties, max_degree))
    by = np.lexsort((partner, -weight, holder))  # each holder's strongest first
    holder, partner, weight = holder[by], partner[by], weight[by]
    rank = np.arange(holder.size) - np.searchsorted(holder, holder)
    kept = rank < max_ties
    dropped_people = int(np.count_nonzero(degree > max_ties))
    dropped = int(np.count_nonzero(~kept))
    holder, partner, weight = holder[kept], partner[kept], weight[kept]
    # the model's first measurement: its graph of slots, each tie in its holder's community
    model_graph = sp.coo_array((weight.astype(np.float32), (holder, partner)), shape=(n, n))  # as the slots hold it
    primary = metrics.primary_community(model_graph, comm[holder], n_c)
    model_ei = metrics.ei_from_block(metrics.block_matrix(model_graph, primary, n_c))
    observed_ei = metrics.ei_index(graph, comm) if graph.nnz else math.nan
    mismatched = int(np.count_nonzero((primary >= 0) & (primary != comm)))
    # group mixing: each group's share of tie weight leaving it
    block = metrics.block_matrix(both, groups, n_g)
    strength = block.sum(axis=1)
    external = np.divide(strength - np.diag(block), strength, out=np.full(n_g, np.nan), where=strength > 0)
    members = np.zeros((n_g, n_c))
    np.add.at(members, (groups, comm), 1)
    ids = np.asarray(network.ids, dtype=object)
    comm_text = np.asarray(c_safe, dtype=object)[comm]
    group_text = np.asarray(g_safe, dtype=object)[groups]
    isolated = np.flatnonzero(np.bincount(holder, minlength=n) == 0)
    rows = np.r_[holder, isolated]
    tie = np.r_[np.ones(holder.size, dtype=bool), np.zeros(isolated.size, dtype=bool)]
    table = pd.DataFrame(
        {
            "id": ids[rows],
            "group": group_text[rows],
            "index": index[rows],
            "communities": comm_text[rows],
            "partner_id": np.r_[ids[partner], np.full(isolated.size, "", dtype=object)],
            "partner_group": np.r_[group_text[partner], np.full(isolated.size, "", dtype=object)],
            "partner_index": pd.array(np.r_[index[partner], np.zeros(isolated.size, dtype=np.int64)], dtype="Int64"),
            "weight": np.r_[weight, np.full(isolated.size, np.nan)],  # written in full (shortest round-trip digits)
        }
    )
    table.loc[~tie, "partner_index"] = pd.NA  # a person without a tie: the partner fields empty
    return _Built(
        n=n,
        n_ties=int(i.size),
        group_names=g_safe,
        raw_group_names=list(group_names),
        comm_names=c_safe,
        raw_comm_names=list(comm_names),
        from_attribute=communities is not None,
        sizes=sizes,
        members=members,
        external=external,
        max_ties=max_ties,
        max_degree=max_degree,
        dropped=dropped,
        dropped_people=dropped_people,
        under_floor=int(np.count_nonzero(scaled < _DEFAULTS.tie_floor)),
        weighted=network.weight_column is not None,
        observed_ei=observed_ei,
        model_ei=model_ei,
        mismatched=mismatched,
        isolated=int(isolated.size),
        table=table,
    )


def safe_names(names: list[str]) -> list[str]:
    """Scenario names for the data's names: characters a name may not hold become ``_``; duplicates numbered.

    ``"R&D"`` → ``R_D``, ``"Sales EMEA"`` → ``Sales_EMEA``, ``"-x"`` → ``_x``; at most 64 characters.
    """
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", str(name).strip())[:60] or "group"
        base = "_" + base[1:] if base[0] == "-" else base
        candidate, k = base, 2
        while candidate in taken:
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def _number(x: float) -> str:
    return f"{x:.4g}"


def _yaml(b: _Built, network: ObservedNetwork, out_yaml: Path, ties_name: str) -> str:
    """The scenario file: every value the data gave says how; every guess says it is one."""
    q = json.dumps  # names quoted: a group called "no" or "1" stays a name
    data_files = ", ".join(str(p) for p in (network.edges_path, network.nodes_path) if p is not None)
    ei_note = (
        "the same"
        if math.isclose(b.model_ei, b.observed_ei, rel_tol=0, abs_tol=1e-6)
        or (math.isnan(b.model_ei) and math.isnan(b.observed_ei))
        else "differs: "
        + "; ".join(
            reason
            for reason, count in (
                (
                    f"{b.mismatched} person(s) hold most tie weight outside their own community, and the model "
                    "counts a person in the community of most of its ties",
                    b.mismatched,
                ),
                (f"{b.dropped} tie end(s) over the 64-slot cap were dropped", b.dropped),
            )
            if count
        )
    )
    lines = [
        f"# The organisation {data_files} shows, as a silosim scenario (written by `silosim measure`).",
        f"# {b.n} people in {len(b.group_names)} group(s), {b.n_ties} tie(s); ties and memberships: {ties_name}.",
        *(f"# Data: {' '.join(note.split())}" for note in network.notes),
        f"# E-I over the communities: {b.observed_ei:.6f} in the data; {b.model_ei:.6f} as the model measures "
        f"its ties at step 0 ({ei_note}).",
        "# Values marked 'guess' are defaults the data says nothing about: check them before trusting a run.",
        f"name: {q(default_name(out_yaml))}",
        f"description: {q('Built from the observed network ' + data_files + ' by silosim measure.')}",
        "seed: 0",
        "steps: 300  # metrics.burn_in + metrics.window (100 + 200): the verdict pools a whole window",
        f"initial_ties: {q(ties_name)}  # every observed tie, both ends holding it, and every person's community",
        "organization:",
        "  departments:  # one per group (the model needs departments to own and animate communities)",
    ]
    for k, name in enumerate(b.group_names):
        share = b.external[k]
        reach = 0.3 if math.isnan(share) else min(1.0, max(MIN_REACH, round(float(share), 4)))
        how = (
            "reach: guess (the group has no ties)"
            if math.isnan(share)
            else f"reach: the group's share of tie weight leaving it ({_number(share)}"
            + (f", raised to {MIN_REACH}" if share < MIN_REACH else "")
            + ")"
        )
        lines.append(
            f"    - {{name: {q(name)}, headcount: {int(b.sizes[k])}, reach: {reach}, openness: 0.5}}"
            f"  # headcount: the group's size; {how}; openness: guess"
        )
    lines.append("  stakeholders:  # every observed person, in the group of its attribute")
    for k, name in enumerate(b.group_names):
        raw = f" (in the data: {q(b.raw_group_names[k])})" if b.raw_group_names[k] != name else ""
        lines.append(
            f"    - {{group: {q(name)}, count: {int(b.sizes[k])}, external: false, activity: 0.5}}"
            f"  # count: people in the data{raw}; activity: guess"
        )
    kind = "attribute" if b.from_attribute else "group (each group's own community: the silo the data shows)"
    lines.append(f"communities:  # one per {kind}")
    for c, name in enumerate(b.comm_names):
        col = b.members[:, c]
        top = col.max() if col.size else 0
        involvement = {
            b.group_names[k]: round(INVOLVEMENT * col[k] / top, 2)
            for k in range(len(b.group_names))
            if top > 0 and round(INVOLVEMENT * col[k] / top, 2) > 0
        }
        share = {
            b.group_names[k]: max(round(col[k] / b.sizes[k], 4), 0.0001)
            for k in range(len(b.group_names))
            if col[k] > 0
        }
        raw = f" (in the data: {q(b.raw_comm_names[c])})" if b.raw_comm_names[c] != name else ""
        lines += [
            f"  - name: {q(name)}{raw and '  #' + raw}",
            "    audience: internal",
            f"    involvement: {_flow(involvement)}"
            f"  # guess: {INVOLVEMENT} for the department of the group with most members here, the others pro rata",
            f"    members: {_flow(share)}  # the share of each group in this community, from the attributes "
            f"(the ties file gives each person's exactly)",
        ]
    max_ties_how = (
        f"the most partners a person has ({b.max_degree})"
        if b.max_ties == b.max_degree
        else f"the default (nobody has more than {b.max_degree} partners)"
        if b.max_degree < b.max_ties
        else f"the schema's limit: {b.dropped_people} person(s) have up to {b.max_degree} partners and keep their "
        f"{MAX_TIES} strongest ties ({b.dropped} tie end(s) dropped)"
    )
    weights = (
        "weights scaled linearly, the strongest tie 1" if b.weighted else "every tie weighs 1 (no weights in the data)"
    )
    floor = (
        f"; {b.under_floor} tie(s) scaled under tie_floor count at step 0 and drop at the first step"
        if b.under_floor
        else ""
    )
    lines += [
        "ownership:",
        "  rule: most_involved  # guess: each community run by its most involved department (compare others)",
        "  cross_posting: owner_only  # guess",
        "dynamics:",
        f"  max_ties: {b.max_ties}  # {max_ties_how}; {weights}{floor}",
        "metrics:",
        f"  insight_target: {q(b.group_names[int(np.argmax(b.sizes))])}  # guess: the largest department's "
        "learning of insights is timed",
        "",
    ]
    return "\n".join(lines)


def _flow(mapping: dict[str, float]) -> str:
    """A YAML flow mapping with quoted names."""
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in mapping.items()) + "}"
