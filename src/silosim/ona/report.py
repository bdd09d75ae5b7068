"""An observed network measured and reported: its groups against chance, its communities, its brokers.

:func:`measure_network` measures everything (through :mod:`silosim.network`) and returns it as
one JSON-ready dict; :func:`write_measures` writes it as a folder (``measures.json``,
``nodes.csv``, ``groups.csv``, three plots, ``conclusion.txt``), whole or not at all;
:func:`conclusion` says in words which groups are silos against chance and who bridges them.

A group is a *silo against chance* when its E-I index is below the 95 % interval of the E-I
its members would have if the group labels were shuffled (sizes kept) and its one-sided
p-value of "more internal than chance" is under 0.05. A group above the interval is *more
open than chance*; the others mix *as chance would*.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from silosim import metrics
from silosim import network as net
from silosim.analysis.text import number, plural

if TYPE_CHECKING:
    import pandas as pd

    from silosim.ona.read import ObservedNetwork

ALPHA = 0.05  # the p-value under which a group is a silo against chance
TOLERANCE = 1e-9  # E-I values closer than this are equal (rounding)
TOP = 10  # bridges and brokers listed in measures.json
NAMED = 3  # bridges and brokers named in the conclusion
DETAILED = 8  # silos described one by one in the conclusion (the others named)
DRAW_NODES = 2000  # above this many nodes the network plot draws the groups as nodes
BETWEEN_ROLES = ("itinerant", "representative", "gatekeeper", "liaison")  # the roles that join two groups
FILES = ("measures.json", "nodes.csv", "groups.csv", "heatmap.png", "network.png", "ei_null.png", "conclusion.txt")


@contextmanager
def _timed(timings: dict[str, float] | None, stage: str) -> Iterator[None]:
    """Add the seconds the block takes to ``timings[stage]`` (when timings are kept)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


def measure_network(
    network: ObservedNetwork,
    groups: np.ndarray,
    group_names: list[str],
    *,
    communities: tuple[np.ndarray, list[str]] | None = None,
    seed: int = 0,
    n_permutations: int = 999,
    group_by: str | None = None,
    community_by: str | None = None,
    timings: dict[str, float] | None = None,
) -> dict:
    """Measure an observed network: E-I against chance, modularity, communities, tie matrix, constraint, brokerage.

    Args:
        network: the network read (:func:`silosim.ona.read.read_network`).
        groups: the formal group of every node, 0..G-1 (:func:`silosim.ona.read.partition`).
        group_names: the G groups' names.
        communities: a second partition to compare (``--community-by``): labels and names.
        seed: seed of the permutation test and of Leiden.
        n_permutations: shuffles of the group labels in the permutation tests.
        group_by: the attribute the groups come from, for the report's words (default ``group``).
        community_by: the attribute of ``communities``.
        timings: when given, filled with the seconds each stage took (``E-I test``, ``communities (Leiden)``,
            ``constraint``, ``effective size``, ``brokerage``, ``--community-by``, ``other``).

    Returns:
        Everything measured, JSON-ready (NaN as None): ``input``, ``ei`` (whole network),
        ``groups`` (one record per group), ``mixing`` (group-to-group counts and weights),
        ``modularity``, ``brokerage`` (network totals), ``bridges``, ``brokers``, ``community_by``
        (or None) and ``nodes``, the per-node columns (lists) that :func:`write_measures` puts in
        ``nodes.csv`` rather than in ``measures.json``.
    """
    groups = np.asarray(groups, dtype=np.int64)
    names = [str(name) for name in group_names]
    graph, directed, n_groups = network.graph, bool(network.directed), len(names)
    with _timed(timings, "other"):
        source, target, weight = net.ties(graph, directed=directed)
        n = network.n
        degree = np.bincount(source, minlength=n) + np.bincount(target, minlength=n)
        strength = np.bincount(source, weight, n) + np.bincount(target, weight, n)
        mixing = net.group_mixing(graph, groups, directed=directed, n_groups=n_groups)
    with _timed(timings, "E-I test"):
        test = net.ei_test(
            graph, groups, directed=directed, n_permutations=n_permutations, seed=seed, n_groups=n_groups
        )
    with _timed(timings, "communities (Leiden)"):
        found = net.communities(graph, groups, directed=directed, seed=seed)
    with _timed(timings, "constraint"):
        constraint = net.constraint(graph)
    with _timed(timings, "effective size"):
        effective = net.effective_size(graph)
    with _timed(timings, "brokerage"):
        broker = net.brokerage(graph, groups, directed=directed, n_groups=n_groups)
    with _timed(timings, "other"):
        sizes = np.bincount(groups, minlength=n_groups)
        between = broker.scores[:, [net.ROLES.index(r) for r in BETWEEN_ROLES]].sum(axis=1)
        ids = np.asarray(network.ids, dtype=object)
        records = _group_records(names, sizes, mixing, test, directed)
        _add_group_brokerage(records, broker)
        bridge_nodes = net.bridges(constraint, effective, k=TOP)
        order = np.lexsort((np.nan_to_num(constraint, nan=np.inf), -between))
        broker_nodes = [int(i) for i in order[:TOP] if between[i] > 0]

        def person(i: int) -> dict:
            return {
                "id": str(ids[i]),
                "group": names[groups[i]],
                "degree": int(degree[i]),
                "constraint": float(constraint[i]),
                "effective_size": float(effective[i]),
                "brokerage_between_groups": float(between[i]),
                "brokerage": {role: float(broker.scores[i, k]) for k, role in enumerate(net.ROLES)},
                "brokerage_total_z": float(broker.z[i, -1]),
            }

        result = {
            "input": {
                "edges": str(network.edges_path),
                "nodes": None if network.nodes_path is None else str(network.nodes_path),
                "format": network.format,
                "directed": directed,
                "weight_column": network.weight_column,
                "n_nodes": n,
                "n_ties": len(source),
                "total_weight": float(weight.sum()),
                "isolated_nodes": int(np.sum(degree == 0)),
                "group_by": group_by or "group",
                "community_by": community_by,
                "notes": list(network.notes),
            },
            "ei": _whole_record(test),
            "groups": records,
            "mixing": {
                "groups": names,
                "counts": mixing.counts,
                "weights": mixing.weights,
                "row_share": _row_share(mixing.weights),
                "how": "undirected: [g][h] = ties between g and h, the diagonal each tie inside g once"
                if not directed
                else "directed: [g][h] = ties from g to h",
            },
            "modularity": {
                "formal": found.modularity_formal,
                "detected": found.modularity_detected,
                "n_detected": found.n_detected,
                "ari": found.ari,
                "method": f"Leiden for modularity (igraph, seed {seed}, resolution 1) on the undirected tie weights",
            },
            "brokerage": {
                "roles": list(net.ROLES),
                "density": broker.density,
                "total": dict(zip(net.ROLES, broker.total, strict=True)),
                "expected": dict(zip(net.ROLES, broker.total_expected, strict=True)),
                "sd": dict(zip(net.ROLES, broker.total_sd, strict=True)),
                "z": dict(zip(net.ROLES, broker.total_z, strict=True)),
                "how": "Gould & Fernandez (1989) two-paths a → b → c with no tie a → c, weights ignored; expected "
                "values and z-scores under a random graph of the same density and group sizes (R's sna::brokerage)"
                + ("" if directed else "; undirected ties count both ways, so each pair is brokered twice"),
            },
            "bridges": [person(int(i)) for i in bridge_nodes],
            "brokers": [person(i) for i in broker_nodes],
            "community_by": None,
            "seed": seed,
        }
    if communities is not None:
        with _timed(timings, "--community-by"):
            result["community_by"] = _second_partition(
                graph, directed, communities, community_by, groups, found.labels, seed, n_permutations
            )
    with _timed(timings, "other"):
        nodes: dict[str, list] = {
            "id": [str(i) for i in ids],
            "group": [names[g] for g in groups],
            "degree": degree.tolist(),
            "strength": strength.tolist(),
            "constraint": constraint.tolist(),
            "effective_size": effective.tolist(),
        }
        for k, role in enumerate(net.ROLES):
            nodes[f"brokerage_{role}"] = broker.scores[:, k].tolist()
        for k, role in enumerate(net.ROLES):
            nodes[f"z_{role}"] = broker.z[:, k].tolist()
        nodes["community_detected"] = found.labels.tolist()
        result = json_ready(result)
        result["nodes"] = nodes  # per-node columns: nodes.csv (NaN kept; written as empty cells)
    return result


def _whole_record(test: net.EITest) -> dict:
    """The whole network's E-I against chance, with its verdict in words."""
    verdict = _verdict(test.observed, test.null_low, test.null_high, test.p_internal)
    return {
        "observed": test.observed,
        "baseline": test.baseline,
        "null_mean": test.null_mean,
        "null_low": test.null_low,
        "null_high": test.null_high,
        "p_internal": test.p_internal,
        "p_two_sided": test.p_two_sided,
        "n_permutations": test.n_permutations,
        "seed": test.seed,
        "verdict": verdict,
        "null": test.null,
    }


def _verdict(observed: float, low: float, high: float, p_internal: float) -> str:
    """``silo`` (below the null interval, p < 0.05), ``open`` (above it), ``chance`` or ``undefined``.

    "Below" and "above" allow for rounding (``TOLERANCE``): a group whose every shuffle gives
    its own E-I (a complete graph) mixes as chance, even when two formulas of one value differ
    in their last bit.
    """
    if not all(math.isfinite(v) for v in (observed, low, high)):
        return "undefined"
    if observed < low - TOLERANCE and p_internal < ALPHA:
        return "silo"
    if observed > high + TOLERANCE:
        return "open"
    return "chance"


def _group_records(
    names: list[str], sizes: np.ndarray, mixing: net.GroupMixing, test: net.EITest, directed: bool
) -> list[dict]:
    """One record per group: its ties inside and leaving, its E-I against its permutation null, its verdict."""
    off = mixing.counts - np.diag(np.diag(mixing.counts))
    leaving = off.sum(axis=1) + (off.sum(axis=0) if directed else 0)  # directed: ties sent and received
    records = []
    for g, name in enumerate(names):
        records.append(
            {
                "name": name,
                "size": int(sizes[g]),
                "ties_inside": float(mixing.counts[g, g]),
                "ties_leaving": float(leaving[g]),
                "weight_inside": float(mixing.internal[g]),
                "weight_leaving": float(mixing.external[g]),
                "share_leaving": float(mixing.external_share[g]),
                "ei": float(test.group_observed[g]),
                "null_mean": float(test.group_null_mean[g]),
                "null_low": float(test.group_null_low[g]),
                "null_high": float(test.group_null_high[g]),
                "p_internal": float(test.group_p_internal[g]),
                "p_two_sided": float(test.group_p_two_sided[g]),
                "verdict": _verdict(
                    float(test.group_observed[g]),
                    float(test.group_null_low[g]),
                    float(test.group_null_high[g]),
                    float(test.group_p_internal[g]),
                ),
            }
        )
    return records


def _add_group_brokerage(records: list[dict], broker: net.Brokerage) -> None:
    """Each group's brokerage: its members' total per role, its expected total, the mean of its members' z."""
    for g, record in enumerate(records):
        size = broker.sizes[g]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_z = (broker.group_scores[g] / size - broker.group_expected[g]) / broker.group_sd[g]
        record["brokerage"] = {
            role: {
                "total": float(broker.group_scores[g, k]),
                "expected": float(size * broker.group_expected[g, k]),
                "z_mean": float(mean_z[k]),
            }
            for k, role in enumerate(net.ROLES)
        }


def _row_share(weights: np.ndarray) -> np.ndarray:
    """Each row's share of its total: the share of group g's tie weight that goes to group h."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights / weights.sum(axis=1, keepdims=True)


def _second_partition(
    graph: Any,
    directed: bool,
    communities: tuple[np.ndarray, list[str]],
    attribute: str | None,
    groups: np.ndarray,
    detected: np.ndarray,
    seed: int,
    n_permutations: int,
) -> dict:
    """E-I, modularity and agreement of the ``--community-by`` partition with the groups and with Leiden's."""
    labels, names = np.asarray(communities[0], dtype=np.int64), [str(c) for c in communities[1]]
    test = net.ei_test(graph, labels, directed=directed, n_permutations=n_permutations, seed=seed, n_groups=len(names))
    mixing = net.group_mixing(graph, labels, directed=directed, n_groups=len(names))
    sizes = np.bincount(labels, minlength=len(names))
    return {
        "attribute": attribute or "community",
        "ei": _whole_record(test),
        "groups": _group_records(names, sizes, mixing, test, directed),
        "modularity": metrics.modularity(graph, labels),
        "ari_with_groups": net.adjusted_rand_index(groups, labels),
        "ari_with_detected": net.adjusted_rand_index(labels, detected),
    }


def json_ready(value: Any) -> Any:
    """``value`` with numpy arrays and scalars as Python lists and numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return [json_ready(v) for v in value.tolist()] if value.ndim > 1 else _floats(value)
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _floats(values: np.ndarray) -> list[float | None]:
    finite = np.isfinite(values)
    out: list = values.tolist()
    if not finite.all():
        for i in np.flatnonzero(~finite):
            out[i] = None
    return out


# --- writing ------------------------------------------------------------------------------------------


def write_measures(
    result: dict, network: ObservedNetwork, out: Path, *, timings: dict[str, float] | None = None
) -> list[Path]:
    """Write the report folder ``out`` whole or not at all (:func:`silosim.atomic.atomic_folder`).

    Files: ``measures.json`` (everything but the per-node columns; NaN as null), ``nodes.csv``
    (every node: id, its attributes, group, degree, strength, constraint, effective size,
    brokerage per role and its z-scores, detected community), ``groups.csv``, ``heatmap.png``
    (share of each group's tie weight going to each group), ``network.png`` (the network by
    group with its brokers marked; above 2,000 nodes, the groups as nodes), ``ei_null.png``
    (E-I against its permutation null) and ``conclusion.txt``.

    Args:
        result: :func:`measure_network`'s result.
        network: the network it measured.
        out: the folder; missing or empty.
        timings: when given, filled with the seconds spent writing the tables (``writing``) and
            drawing (``plots``).

    Returns:
        The files written, in ``out``.
    """
    from silosim.atomic import atomic_folder

    out = Path(out)
    with atomic_folder(out) as tmp:
        with _timed(timings, "writing"):
            table = node_table(result, network)
            document = {key: value for key, value in result.items() if key != "nodes"}
            document["nodes"] = {"file": "nodes.csv", "columns": table.columns.tolist()}
            (tmp / "measures.json").write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
            write_csv(table, tmp / "nodes.csv")
            group_table(result).to_csv(tmp / "groups.csv", index=False)
            (tmp / "conclusion.txt").write_text(conclusion(result) + "\n")
        with _timed(timings, "plots"):
            _plots(result, network, tmp)
    return [out / name for name in FILES]


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """``table`` as CSV through pyarrow's writer (NaN as an empty cell, text quoted): 13x pandas' ``to_csv``.

    pandas formats every float in Python (5 s for 100,000 nodes × 20 measures); pyarrow in C.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    pa_csv.write_csv(pa.Table.from_pandas(table, preserve_index=False), path)


def node_table(result: dict, network: ObservedNetwork) -> pd.DataFrame:
    """``nodes.csv``: one row per node, its id, attributes, group and measures."""
    import pandas as pd

    nodes = result["nodes"]
    table = pd.DataFrame({"id": nodes["id"]})
    attributes = network.attributes
    for column in attributes.columns:
        name = str(column)
        if name in nodes or name in table:  # an attribute named like a measure keeps its values, renamed
            name = f"{name}_attribute"
        table[name] = attributes[column].to_numpy()
    for column, values in nodes.items():
        if column != "id":
            table[column] = values
    return table


def group_table(result: dict) -> pd.DataFrame:
    """``groups.csv``: one row per group, its ties inside and leaving, E-I against chance, its brokerage."""
    import pandas as pd

    rows = []
    for record in result["groups"]:
        row = {key: value for key, value in record.items() if key != "brokerage"}
        for role, values in record["brokerage"].items():
            row[f"brokerage_{role}"] = values["total"]
            row[f"expected_{role}"] = values["expected"]
            row[f"z_mean_{role}"] = values["z_mean"]
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.rename(columns={"name": "group", "ei": "ei_index"})


# --- the conclusion in words ------------------------------------------------------------------------------


def conclusion(result: dict) -> str:
    """The report in words: which groups are silos against chance, formal against informal groups, who bridges.

    Paragraphs (blank line between): the groups (silos against chance, open, as chance); the
    whole network's E-I against random mixing and its permutation null; the formal groups
    against the communities Leiden finds (ARI); the ``--community-by`` partition, if any; who bridges
    (least constrained people, most brokerage between groups, by id and group); how the input
    was read.
    """
    info, ei = result["input"], result["ei"]
    attribute = info["group_by"]
    shuffles = plural(int(ei["n_permutations"]), "shuffle")
    paragraphs = [_groups_paragraph(result["groups"], attribute, shuffles)]
    paragraphs.append(_whole_paragraph(ei, attribute))
    paragraphs.append(_formal_paragraph(result["modularity"], attribute))
    second = result.get("community_by")
    if second:
        paragraphs.append(_second_paragraph(second, attribute, shuffles))
    paragraphs.append(_bridges_paragraph(result))
    notes = "; ".join(note.strip().rstrip(".") for note in info["notes"] if note.strip())
    paragraphs.append(
        f"Input: {info['edges']} ({info['format']}), {people(int(info['n_nodes']))}, {int(info['n_ties']):,} ties"
        + (f"; {notes}." if notes else ".")
    )
    return "\n\n".join(paragraphs)


def people(n: int) -> str:
    """``1 person``, ``8 people``."""
    return f"{n:,} {'person' if n == 1 else 'people'}"


def fixed(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, ``n/a`` for None, never ``-0.00``."""
    text = number(value, digits)
    return text.lstrip("-") if text != "n/a" and float(text) == 0 else text


def _e(value: float | None) -> str:
    return fixed(value).replace("-", "−")


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _interval(record: dict) -> str:
    return f"{_e(record['null_low'])} to {_e(record['null_high'])}"


def _groups_paragraph(records: list[dict], attribute: str, shuffles: str) -> str:
    by = {
        verdict: [r for r in records if r["verdict"] == verdict] for verdict in ("silo", "open", "chance", "undefined")
    }
    rule = (
        f"(E-I index below the 95 % interval it has when the {attribute} labels are shuffled, {shuffles}, "
        f"and p < {ALPHA:g})"
    )
    text = []
    if by["silo"]:
        silos = sorted(by["silo"], key=lambda r: r["ei"])
        listed = "; ".join(
            f"{r['name']} (E-I {_e(r['ei'])} against {_interval(r)} by chance, p = {_p(r['p_internal'])}, "
            f"{r['share_leaving']:.0%} of its tie weight leaving it)"
            for r in silos[:DETAILED]
        )
        if len(silos) > DETAILED:
            listed += f"; and {', '.join(r['name'] for r in silos[DETAILED:])} (groups.csv)"
        if len(silos) == len(records) == 2:
            which = f"Both groups by {attribute} are silos"
        elif len(silos) == len(records) > 2:
            which = f"All {len(records)} groups by {attribute} are silos"
        else:
            which = f"{plural(len(silos), 'group').capitalize()} of {len(records)} by {attribute} "
            which += "is a silo" if len(silos) == 1 else "are silos"
        text.append(f"{which} against chance {rule}: {listed}.")
    else:
        text.append(f"No group by {attribute} is a silo against chance {rule}.")
    if by["chance"]:
        names = ", ".join(f"{r['name']} (E-I {_e(r['ei'])}, p = {_p(r['p_internal'])})" for r in by["chance"])
        text.append(f"Not silos, mixing as chance would: {names}.")
    if by["open"]:
        names = ", ".join(f"{r['name']} (E-I {_e(r['ei'])} above {_e(r['null_high'])})" for r in by["open"])
        text.append(f"More open than chance: {names}.")
    if by["undefined"]:
        names = ", ".join(r["name"] for r in by["undefined"])
        text.append(f"Not measured (no ties, or a group that holds everyone): {names}.")
    return " ".join(text)


def _whole_paragraph(ei: dict, attribute: str) -> str:
    observed = ei["observed"]
    if observed is None:
        return "The whole network's E-I index is undefined (no tie between two people with a group)."
    against = (
        f"random mixing would give {_e(ei['baseline'])} and the shuffled labels {_interval(ei)} "
        f"(mean {_e(ei['null_mean'])}, p = {_p(ei['p_internal'])} one-sided, {_p(ei['p_two_sided'])} two-sided)"
    )
    if ei["verdict"] == "silo":
        words = f"ties stay inside a {attribute} more than chance would have them"
    elif ei["verdict"] == "open":
        words = f"ties cross {attribute} lines more than chance would"
    else:
        words = f"ties mix across {attribute} lines as chance would"
    return f"The whole network: E-I index {_e(observed)}; {against}: {words}."


def _agreement(ari: float | None) -> str:
    if ari is None:
        return "cannot be compared (no ties)"
    if ari >= 0.8:
        return "closely follow"
    if ari >= 0.5:
        return "largely follow"
    if ari >= 0.2:
        return "partly follow"
    return "cut across"


def _formal_paragraph(modularity: dict, attribute: str) -> str:
    ari = modularity["ari"]
    follow = _agreement(ari)
    verb = follow if ari is None else f"{follow} the {attribute} lines"
    return (
        f"Formal against informal: Leiden finds {plural(int(modularity['n_detected']), 'community')} of two or "
        f"more people (modularity {_e(modularity['detected'])}, against {_e(modularity['formal'])} for the "
        f"{attribute} groups); the adjusted Rand index between them is {_e(ari)} (1: the same partition, 0: no "
        f"more alike than chance): the informal communities {verb}."
    )


def _second_paragraph(second: dict, attribute: str, shuffles: str) -> str:
    other = second["attribute"]
    silos = [r["name"] for r in second["groups"] if r["verdict"] == "silo"]
    said = f"silos against chance: {', '.join(silos)}" if silos else "none is a silo against chance"
    return (
        f"By {other}: E-I index {_e(second['ei']['observed'])} against {_interval(second['ei'])} by chance "
        f"({shuffles}), modularity {_e(second['modularity'])}; {said}. The {other} groups "
        f"{_agreement(second['ari_with_groups'])} the {attribute} groups (adjusted Rand index "
        f"{_e(second['ari_with_groups'])}) and {_agreement(second['ari_with_detected'])} the communities Leiden finds "
        f"({_e(second['ari_with_detected'])})."
    )


def _bridges_paragraph(result: dict) -> str:
    bridges, brokers = result["bridges"][:NAMED], result["brokers"][:NAMED]
    if not bridges:
        return "Who bridges: nobody has a tie."
    least = "; ".join(
        f"{b['id']} ({b['group']}, constraint {number(b['constraint'], 2)}, effective size "
        f"{number(b['effective_size'], 1)})"
        for b in bridges
    )
    text = f"Who bridges: the least constrained people (Burt's constraint, lower is more bridging) are {least}."
    if brokers:

        def roles(b: dict) -> str:
            parts = [f"{int(b['brokerage'][r])} as {r}" for r in BETWEEN_ROLES if b["brokerage"][r]]
            return ", ".join(parts)

        most = "; ".join(
            f"{b['id']} ({b['group']}, {int(b['brokerage_between_groups'])} two-paths between groups: {roles(b)})"
            for b in brokers
        )
        text += f" The most brokerage between groups (Gould & Fernandez): {most}."
    else:
        text += " Nobody brokers between groups (no two-path a → b → c with a, c in other groups and no tie a → c)."
    return text


# --- plots --------------------------------------------------------------------------------------------


def _plots(result: dict, network: ObservedNetwork, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from silosim.analysis import style

    for name, draw in (("heatmap.png", heatmap_figure), ("network.png", network_figure), ("ei_null.png", ei_figure)):
        fig = draw(result, network) if draw is network_figure else draw(result)
        fig.savefig(folder / name, dpi=style.DPI)
        plt.close(fig)


VERDICT_COLOURS = {"silo": "#D55E00", "chance": "#0072B2", "open": "#009E73", "undefined": "#999999"}
VERDICT_WORDS = {
    "silo": "silo against chance",
    "chance": "as chance",
    "open": "more open than chance",
    "undefined": "not measured",
}


def heatmap_figure(result: dict) -> Any:
    """The group-to-group heatmap: the share of each row group's tie weight that goes to each column group."""
    import matplotlib.pyplot as plt

    names = result["mixing"]["groups"]
    share = np.array(result["mixing"]["row_share"], dtype=float)
    g = len(names)
    side = min(4 + 0.42 * g, 16)
    fig, ax = plt.subplots(figsize=(side + 1.6, side))
    image = ax.imshow(share, cmap="cividis", vmin=0, vmax=1)
    ax.set_xticks(range(g), names, rotation=60, ha="right", fontsize=max(5, 9 - g // 8))
    ax.set_yticks(range(g), names, fontsize=max(5, 9 - g // 8))
    directed = result["input"]["directed"]
    ax.set_xlabel(f"{result['input']['group_by']} the ties go to")
    ax.set_ylabel(f"{result['input']['group_by']} the ties {'come from' if directed else 'belong to'}")
    if g <= 15:
        for i in range(g):
            for j in range(g):
                if math.isfinite(share[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{share[i, j]:.0%}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="black" if share[i, j] > 0.6 else "white",
                    )
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("share of the row group's tie weight (0–1)")
    what = "sent" if directed else "held"
    ax.set_title(
        f"Where each {result['input']['group_by']}'s ties go:\nshare of the tie weight it {what} "
        "(diagonal: kept inside)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def ei_figure(result: dict) -> Any:
    """E-I against its permutation null: the whole network's histogram, and each group's value against its interval."""
    import matplotlib.pyplot as plt

    from silosim.analysis import style

    ei, records = result["ei"], result["groups"]
    shown = sorted(records, key=lambda r: (r["ei"] is None, r["ei"] if r["ei"] is not None else 0))[:40]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, max(4.5, 1.2 + 0.28 * len(shown))), gridspec_kw={"width_ratios": [1.1, 1]}
    )
    null = np.array([v for v in ei["null"] if v is not None], dtype=float)
    if null.size:
        left.hist(
            null, bins=min(40, max(10, null.size // 10)), color=style.colour(0), alpha=0.75, label="shuffled labels"
        )
    if ei["null_low"] is not None:
        left.axvspan(
            ei["null_low"],
            ei["null_high"],
            color=style.colour(0),
            alpha=0.12,
            label=f"95 % of the shuffles ({ei['null_low']:.2f} to {ei['null_high']:.2f})",
        )
    if ei["baseline"] is not None:
        label = f"random mixing baseline {round(ei['baseline'], 2) + 0.0:.2f}"
        left.axvline(ei["baseline"], color=style.REFERENCE_COLOUR, ls="--", lw=1.2, label=label)
    if ei["observed"] is not None:
        left.axvline(ei["observed"], color=style.colour(3), lw=2, label=f"observed {ei['observed']:.2f}")
    left.set_xlabel(style.label("ei_index"))
    left.set_ylabel("shuffles (count)")
    left.set_title(f"Whole network: E-I against {plural(int(ei['n_permutations']), 'shuffle')}", fontsize=10)
    left.legend(fontsize=7.5, frameon=False, loc="upper left")
    left.grid(alpha=0.3)
    for y, record in enumerate(shown):
        if record["null_low"] is not None:
            right.plot([record["null_low"], record["null_high"]], [y, y], color=style.REFERENCE_COLOUR, lw=3, alpha=0.5)
        if record["ei"] is not None:
            right.plot(record["ei"], y, "o", color=VERDICT_COLOURS[record["verdict"]], ms=6)
    right.set_yticks(range(len(shown)), [r["name"] for r in shown], fontsize=max(5, 9 - len(shown) // 8))
    right.set_ylim(len(shown) - 0.5 + (0.5 if len(shown) < 4 else 0), -0.5 - (0.5 if len(shown) < 4 else 0))
    right.set_xlim(-1.05, 1.05)
    right.set_xlabel(style.label("ei_index"))
    right.set_ylabel(result["input"]["group_by"])
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=style.REFERENCE_COLOUR, lw=3, alpha=0.5, label="95 % of the shuffles")]
    handles += [
        Line2D([], [], ls="", marker="o", color=VERDICT_COLOURS[v], label=VERDICT_WORDS[v])
        for v in ("silo", "chance", "open")
        if any(r["verdict"] == v for r in shown)
    ]
    right.legend(handles=handles, fontsize=7.5, frameon=True, framealpha=0.9, loc="best")
    right.grid(alpha=0.3)
    more = f" (the {len(shown)} most inward of {len(records)})" if len(shown) < len(records) else ""
    right.set_title(f"Each {result['input']['group_by']}'s E-I against its shuffles{more}", fontsize=10)
    fig.tight_layout()
    return fig


def network_figure(result: dict, network: ObservedNetwork) -> Any:
    """The network drawn by group with its brokers marked; above 2,000 nodes, the groups as nodes."""
    if network.n > DRAW_NODES:
        return _group_graph_figure(result, network)
    return _node_graph_figure(result, network)


def _node_graph_figure(result: dict, network: ObservedNetwork) -> Any:
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    from silosim.analysis import style

    names = result["mixing"]["groups"]
    index = {name: g for g, name in enumerate(names)}
    groups = np.array([index[g] for g in result["nodes"]["group"]], dtype=np.int64)
    source, target, _ = net.ties(network.graph, directed=network.directed)
    graph = nx.Graph()
    graph.add_nodes_from(range(network.n))
    graph.add_edges_from(zip(source.tolist(), target.tolist(), strict=True))
    # start each group around its own point of a circle, so the layout keeps groups apart where the ties do
    angle = 2 * np.pi * groups / max(len(names), 1)
    rng = np.random.default_rng(result.get("seed", 0))
    start = np.column_stack([np.cos(angle), np.sin(angle)]) + rng.normal(0, 0.15, (network.n, 2))
    layout = nx.spring_layout(graph, pos=dict(enumerate(start)), seed=result.get("seed", 0), iterations=60)
    xy = np.array([layout[i] for i in range(network.n)]) if network.n else np.zeros((0, 2))
    fig, ax = plt.subplots(figsize=(10, 9))
    if len(source):
        ax.add_collection(
            LineCollection(
                np.stack([xy[source], xy[target]], axis=1),
                colors="#777777",
                linewidths=0.5,
                alpha=0.6 if len(source) < 2000 else 0.3,
            )
        )
    size = max(6.0, 60.0 / math.sqrt(max(network.n, 1) / 30))
    ax.scatter(xy[:, 0], xy[:, 1], s=size, c=[style.colour(g) for g in groups], edgecolors="white", linewidths=0.3)
    ids = {name: i for i, name in enumerate(result["nodes"]["id"])}
    marked = list(
        dict.fromkeys([b["id"] for b in result["bridges"][:NAMED]] + [b["id"] for b in result["brokers"][:NAMED]])
    )
    for name in marked:
        i = ids[name]
        ax.scatter(*xy[i], s=size * 4, facecolors="none", edgecolors="black", linewidths=1.4, zorder=3)
        ax.annotate(name, xy[i], xytext=(5, 5), textcoords="offset points", fontsize=8, zorder=4)
    handles = [
        Line2D([], [], ls="", marker="o", color=style.colour(g), label=name) for g, name in enumerate(names[:16])
    ]
    if len(names) > 16:
        handles.append(Line2D([], [], ls="", label=f"… {len(names) - 16} more (colours repeat)"))
    handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="black", label="top bridges and brokers (by id)"))
    ax.legend(
        handles=handles,
        fontsize=7,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        title=result["input"]["group_by"],
        title_fontsize=8,
    )
    ax.set_title(
        f"{people(network.n)} and {len(source):,} ties, coloured by {result['input']['group_by']}; "
        "circled: the top bridges and brokers",
        fontsize=10,
    )
    ax.autoscale()
    ax.margins(0.06)
    ax.axis("off")
    fig.tight_layout()
    return fig


def _group_graph_figure(result: dict, network: ObservedNetwork) -> Any:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    records = result["groups"]
    names = [r["name"] for r in records]
    g = len(names)
    weights = np.array(result["mixing"]["weights"], dtype=float)
    between = weights.copy()
    np.fill_diagonal(between, 0)
    if result["input"]["directed"]:
        between = between + between.T
    angle = 2 * np.pi * np.arange(g) / max(g, 1)
    xy = np.column_stack([np.cos(angle), np.sin(angle)])
    fig, ax = plt.subplots(figsize=(10, 9))
    top = between.max() if between.size and between.max() > 0 else 1.0
    for i in range(g):
        for j in range(i + 1, g):
            if between[i, j] > 0:
                share = between[i, j] / top
                ax.plot(*xy[[i, j]].T, color="#666666", lw=0.3 + 8 * share, alpha=0.15 + 0.5 * share, zorder=1)
    sizes = np.array([r["size"] for r in records], dtype=float)
    area = 200 + 2800 * np.sqrt(sizes / max(sizes.max(), 1))
    ax.scatter(
        xy[:, 0], xy[:, 1], s=area, c=[VERDICT_COLOURS[r["verdict"]] for r in records], zorder=2, edgecolors="white"
    )
    brokers: dict[str, list[str]] = {}
    for b in list(result["bridges"][:NAMED]) + list(result["brokers"][:NAMED]):
        if b["id"] not in brokers.get(b["group"], []):
            brokers.setdefault(b["group"], []).append(b["id"])
    for i, name in enumerate(names):
        text = f"{name}\n{sizes[i]:,.0f}"
        if name in brokers:
            text += "\n★ " + ", ".join(brokers[name])
        ax.annotate(text, xy[i] * 1.17, ha="center", va="center", fontsize=7 if g > 12 else 8, zorder=3)
    handles = [
        Line2D([], [], ls="", marker="o", ms=8, color=VERDICT_COLOURS[v], label=VERDICT_WORDS[v])
        for v in ("silo", "chance", "open", "undefined")
        if any(r["verdict"] == v for r in records)
    ]
    handles.append(
        Line2D([], [], color="#666666", lw=4, alpha=0.45, label=f"tie weight between groups (max {top:,.0f})")
    )
    handles.append(Line2D([], [], ls="", marker="*", ms=9, color="black", label="holds a top bridge or broker (ids)"))
    ax.legend(handles=handles, fontsize=7.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3)
    ax.set_title(
        f"{network.n:,} people are too many to draw one by one: each {result['input']['group_by']} is drawn as a "
        f"node sized by headcount,\nedges by the tie weight between groups; colour: E-I against chance",
        fontsize=10,
    )
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


__all__ = ["conclusion", "group_table", "json_ready", "measure_network", "node_table", "write_measures"]
