"""``silosim measure EDGES --group-by ATTR``: a real organisation's network measured, its silos against chance.

Reads the ties (and the people's attributes) with :mod:`silosim.ona.read`, measures them with
:mod:`silosim.ona.report`, prints a summary table and the conclusion, and writes a results
folder (whole or not at all); ``--scenario FILE.yaml`` also writes a what-if scenario of the
organisation (:func:`silosim.ona.scenario.scenario_from_network`). Everything that can be
wrong with the input or the flags is found before anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from silosim.analysis.text import markdown_table
from silosim.cli.parser import UsageError, positive_int

PERMUTATIONS = 999  # shuffles of the group labels by default
LARGE_TIES = 500_000  # above this many ties the default is LARGE_PERMUTATIONS: a million ties measured in a minute
LARGE_PERMUTATIONS = 499
TABLE_ROWS = 40  # groups listed in the terminal (all are in groups.csv)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim measure`` and its arguments."""
    parser = subparsers.add_parser(
        "measure",
        help="measure a real organisation's network: its groups' silos against chance, its brokers",
        description="Measure an observed network: each group's E-I index against a permutation test, modularity "
        "and the communities Leiden finds, the group-to-group ties, Burt's constraint and effective size, Gould & "
        "Fernandez brokerage. Prints a summary and the conclusion; writes measures.json, nodes.csv, groups.csv, "
        "plots and conclusion.txt.",
    )
    parser.add_argument(
        "edges",
        type=Path,
        help="the ties: a CSV edge list (source,target[,weight]; Gephi Source,Target,Weight; Kumu From,To,Strength; "
        "a Viva Insights person-to-person export), GraphML or GEXF",
    )
    parser.add_argument("--nodes", type=Path, metavar="NODES", help="a node CSV: an id column and attribute columns")
    parser.add_argument(  # checked in main, which can list the attributes the files have
        "--group-by", metavar="ATTR", help="the node attribute whose values are the formal groups (required)"
    )
    parser.add_argument(
        "--community-by", metavar="ATTR", help="a second attribute (e.g. community) measured and compared the same way"
    )
    parser.add_argument("--weight", metavar="COL", help="the column holding tie weights (default: the format's own)")
    parser.add_argument("--directed", action="store_true", help="read ties as one-way, first id to second")
    parser.add_argument("--out", type=Path, help="results folder (default: a new folder under results/)")
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE.yaml",
        help="also write a scenario of this organisation (and its ties file beside it) for silosim run and sweep",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the permutation test and of Leiden (default 0)")
    parser.add_argument(
        "--permutations",
        type=positive_int,
        metavar="N",
        help=f"shuffles of the group labels in the permutation test (default {PERMUTATIONS}; "
        f"{LARGE_PERMUTATIONS} above {LARGE_TIES:,} ties)",
    )
    parser.add_argument("--quiet", action="store_true", help="no summary table or conclusion: the paths only")
    return parser


def main(args: argparse.Namespace) -> int:
    """Read, check every flag, measure, write; print the summary, the conclusion and the paths written."""
    from silosim import runner
    from silosim.ona import report
    from silosim.ona.read import partition, read_network
    from silosim.scenario import Problem, ScenarioError

    scenario_writer = None
    if args.scenario is not None:
        if args.scenario.suffix.lower() not in (".yaml", ".yml"):
            message = f"expected a scenario file name ending in .yaml, got {str(args.scenario)!r}"
            raise ScenarioError([Problem("--scenario", None, str(args.scenario), message)])
        try:
            from silosim.ona.scenario import scenario_from_network as scenario_writer
        except ImportError as exc:  # pragma: no cover - the module ships with silosim
            raise UsageError(f"silosim measure: --scenario is not available ({exc})") from None
        runner.check_out_dir(args.scenario.parent, "--scenario")
    network = read_network(args.edges, args.nodes, weight=args.weight, directed=args.directed)
    if args.group_by is None:
        columns = [str(c) for c in network.attributes.columns]
        listed = f"one of: {', '.join(columns[:12])}" if columns else "the files give the nodes no attribute"
        message = f"missing: name the node attribute whose values are the groups ({listed})"
        raise ScenarioError([Problem("silosim measure", None, "--group-by", message)])
    groups, names = partition(network, args.group_by, flag="--group-by")
    communities = None
    if args.community_by is not None:
        communities = partition(network, args.community_by, flag="--community-by")
    out = args.out or default_out_dir(args.edges, args.seed)
    runner.check_out_dir(out, "--out")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"silosim measure: --out {out} exists and is not an empty folder; choose another")
    if args.scenario is not None:
        target = args.scenario.resolve()
        if target.is_dir():
            raise UsageError(f"silosim measure: --scenario {args.scenario} is a folder; name a .yaml file to write")
        if target == out.resolve() or out.resolve() in target.parents:
            raise UsageError(
                f"silosim measure: --scenario {args.scenario} would be written inside --out {out}, which holds "
                "the measures only; write the scenario elsewhere"
            )
    n_ties = len(network.source)
    permutations = args.permutations or (LARGE_PERMUTATIONS if n_ties > LARGE_TIES else PERMUTATIONS)
    result = report.measure_network(
        network,
        groups,
        names,
        communities=communities,
        seed=args.seed,
        n_permutations=permutations,
        group_by=args.group_by,
        community_by=args.community_by,
    )
    written = report.write_measures(result, network, out)
    if scenario_writer is not None:
        written.append(scenario_writer(network, groups, names, communities, args.scenario))
    if not args.quiet:
        if args.permutations is None and permutations != PERMUTATIONS:
            print(
                f"note: {n_ties:,} ties: {permutations} shuffles of the labels by default above {LARGE_TIES:,} "
                f"(--permutations N for more)"
            )
        print(summary_table(result))
        print()
        from silosim.cli.run import wrap

        print("\n\n".join(wrap(paragraph) for paragraph in report.conclusion(result).split("\n\n")))
        print()
    print(f"results: {out}")
    for path in written:
        print(f"  {path}")
    return 0


def default_out_dir(edges: Path, seed: int, root: Path = Path("results")) -> Path:
    """A new folder under ``results/`` named after the edge file, the time and the seed (as ``silosim run``)."""
    from silosim.runner import new_results_dir

    return new_results_dir(f"{edges.stem}-measure", seed, root)


VERDICTS = {"silo": "SILO", "open": "open", "chance": "as chance", "undefined": "n/a"}


def summary_table(result: dict) -> str:
    """The whole network and each group: people, share of ties leaving, E-I against its permutation interval."""
    from silosim.ona.report import fixed, people

    info, ei, modularity = result["input"], result["ei"], result["modularity"]
    directed = "directed" if info["directed"] else "undirected"
    lines = [
        f"{info['edges']}: {people(int(info['n_nodes']))}, {int(info['n_ties']):,} ties "
        f"({directed}), groups by {info['group_by']}, {int(ei['n_permutations'])} shuffles (seed {ei['seed']})"
    ]

    def interval(record: dict) -> str:
        return f"{fixed(record['null_low'])} … {fixed(record['null_high'])}"

    def p(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    headers = (info["group_by"], "people", "ties leaving", "E-I", "by chance (95 %)", "p", "verdict")
    rows = [
        (
            "(whole network)",
            f"{info['n_nodes']:,}",
            share(None if ei["observed"] is None else (1 + ei["observed"]) / 2),
            fixed(ei["observed"]),
            interval(ei),
            p(ei["p_internal"]),
            VERDICTS[ei["verdict"]],
        )
    ]
    records = sorted(result["groups"], key=lambda r: (r["ei"] is None, r["ei"] if r["ei"] is not None else 0))
    for record in records[:TABLE_ROWS]:
        rows.append(
            (
                record["name"],
                f"{record['size']:,}",
                share(record["share_leaving"]),
                fixed(record["ei"]),
                interval(record),
                p(record["p_internal"]),
                VERDICTS[record["verdict"]],
            )
        )
    lines.append(markdown_table(headers, rows))
    if len(records) > TABLE_ROWS:
        lines.append(f"… {len(records) - TABLE_ROWS} more groups in groups.csv")
    lines.append(
        f"random-mixing E-I {fixed(ei['baseline'])}; modularity {fixed(modularity['formal'], 3)} by "
        f"{info['group_by']}, {fixed(modularity['detected'], 3)} for the {modularity['n_detected']} communities "
        f"Leiden finds; adjusted Rand index {fixed(modularity['ari'])}"
    )
    bridges = ", ".join(f"{b['id']} ({b['group']})" for b in result["bridges"][:5])
    if bridges:
        lines.append(f"least constrained (bridges): {bridges}")
    return "\n".join(lines)
