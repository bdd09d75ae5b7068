"""Write Zachary's karate club as the CSV files `silosim measure` reads: ``edges.csv`` and ``nodes.csv``.

Zachary, W. W. (1977). An information flow model for conflict and fission in small groups.
*Journal of Anthropological Research* 33(4), 452-473.

Zachary watched a university karate club of 34 members for three years while a quarrel over fees
between the part-time instructor, Mr. Hi, and the club's president, John A., split it in two: Mr. Hi's
supporters founded a new club, the others stayed with the officers. The ties are the friendships he
saw outside the club; each tie's weight is the number of contexts in which the two interacted (classes,
Mr. Hi's studio, the bar near the club...), 1 to 7. The ties, their weights and the club each member
ended in come from ``networkx.karate_club_graph()``.

The files:

- ``edges.csv``: ``source,target,weight``, the 78 ties;
- ``nodes.csv``: ``id,club,faction,role``, the 34 members, numbered 1-34 as in Zachary's paper
  (networkx's node k is member k + 1; Mr. Hi is 1, John A. is 34):

  - ``club``: the club the member joined after the split, ``Mr. Hi`` or ``Officer`` (networkx's
    spelling, 17 each): the formal split, ``--group-by club``;
  - ``faction``: the side Zachary recorded the member leaning to *before* the split, from the ties he
    observed, ``Mr. Hi``, ``John A.`` or ``none`` (neutral): a second, informal split, which disagrees
    with the club for member 9, who leaned to John A. but followed Mr. Hi, and for the three neutrals
    (10, 17, 19). Zachary's strong/weak alignments are merged here; they are his Table 1, as the
    statnet project publishes them (vertex attributes ``faction``/``faction.id`` of ``zach`` in the R
    packages ergm.count and statnet.data, https://github.com/statnet/ergm.count);
  - ``role``: ``Instructor`` (Mr. Hi), ``President`` (John A.) or ``Member`` (same source).

Run ``python examples/karate/make_karate.py`` to write the files beside this script; they are kept
in the repository, so running it again only rewrites the same bytes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import networkx as nx

HERE = Path(__file__).resolve().parent

# Zachary's (1977) faction alignment of members 1-34: -2 strongly Mr. Hi's, -1 weakly, 0 neutral,
# +1 weakly John A.'s, +2 strongly (statnet's faction.id of `zach`).
FACTION_ID = [-2, -2, -2, -2, -2, -2, -2, -2, 1, 0, -2, -2, -1, -1, 2, 1, 0, -1, 0, -1]
FACTION_ID += [2, -1, 2, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2]
SIDES = {-2: "Mr. Hi", -1: "Mr. Hi", 0: "none", 1: "John A.", 2: "John A."}
ROLES = {1: "Instructor", 34: "President"}


def write(folder: Path = HERE) -> tuple[Path, Path]:
    """Write ``edges.csv`` and ``nodes.csv`` into ``folder``.

    Args:
        folder: where the files go (created if missing).

    Returns:
        The edge file and the node file.
    """
    graph = nx.karate_club_graph()
    assert graph.number_of_nodes() == len(FACTION_ID) == 34 and graph.number_of_edges() == 78
    folder.mkdir(parents=True, exist_ok=True)
    edges, nodes = folder / "edges.csv", folder / "nodes.csv"
    with edges.open("w", newline="", encoding="utf-8") as out:
        rows = csv.writer(out, lineterminator="\n")
        rows.writerow(["source", "target", "weight"])
        for u, v, data in sorted(graph.edges(data=True)):
            rows.writerow([u + 1, v + 1, int(data["weight"])])
    with nodes.open("w", newline="", encoding="utf-8") as out:
        rows = csv.writer(out, lineterminator="\n")
        rows.writerow(["id", "club", "faction", "role"])
        for k in sorted(graph.nodes):
            member = k + 1
            rows.writerow([member, graph.nodes[k]["club"], SIDES[FACTION_ID[k]], ROLES.get(member, "Member")])
    return edges, nodes


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}")
