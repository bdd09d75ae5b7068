"""Reading an organisation's network: every format and spelling, the cleaning and its notes, every bad input."""

import importlib.util
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from silosim import network as tie_network
from silosim.ona.read import ObservedNetwork, partition, read_network
from silosim.scenario.errors import ScenarioError
from tests.helpers import ROOT

KARATE = ROOT / "examples" / "karate"


def _file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _ties(network: ObservedNetwork) -> dict[tuple[str, str], float]:
    """Each tie by its two ids (sorted when undirected) and its weight."""
    out = {}
    for s, t, w in zip(network.source, network.target, network.weight, strict=True):
        a, b = network.ids[s], network.ids[t]
        out[(a, b) if network.directed else tuple(sorted((a, b)))] = float(w)
    return out


def _problems(excinfo) -> list:
    return excinfo.value.problems


def _one(excinfo):
    (problem,) = excinfo.value.problems
    return problem


# --- formats and spellings -----------------------------------------------------------------------------------------


def test_a_plain_edge_list_with_a_node_file(tmp_path):
    edges = _file(tmp_path, "edges.csv", "source,target,weight\na,b,2\nb,c,3.5\n")
    nodes = _file(tmp_path, "nodes.csv", "id,dept,site\nc,ops,lyon\na,sales,paris\nb,ops,paris\nd,sales,lyon\n")
    net = read_network(edges, nodes)
    assert net.ids == ["c", "a", "b", "d"]  # the node file's order; d has no tie and is kept
    assert net.n == 4 and net.format == "csv" and net.weight_column == "weight" and not net.directed
    assert _ties(net) == {("a", "b"): 2.0, ("b", "c"): 3.5}
    assert net.graph.shape == (4, 4) and net.graph[1, 2] == 2.0 and net.graph[2, 1] == 2.0 and net.graph[0, 2] == 3.5
    assert list(net.attributes.columns) == ["dept", "site"]
    assert net.attributes.loc["d", "site"] == "lyon" and list(net.attributes.index) == net.ids
    assert list(net.node_lines) == [2, 3, 4, 5]
    assert "1 node without ties kept (isolated)" in net.notes
    assert "weights from column weight" in net.notes
    assert net.edges_path == edges and net.nodes_path == nodes


def test_the_graph_holds_the_cleaned_ties_and_nothing_else(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target,weight\na,b,1\nb,a,2\nc,c,5\nb,c,4\na,c,0\n")
    net = read_network(edges)
    s, t, w = tie_network.ties(net.graph)
    assert sorted(zip(s.tolist(), t.tolist(), w.tolist(), strict=True)) == sorted(
        zip(net.source.tolist(), net.target.tolist(), net.weight.tolist(), strict=True)
    )
    assert _ties(net) == {("a", "b"): 3.0, ("b", "c"): 4.0}
    assert net.source.dtype == np.int64 and net.weight.dtype == np.float64


def test_column_names_are_matched_ignoring_case_and_spaces(tmp_path):
    edges = _file(tmp_path, "e.csv", " SOURCE , target ,WEIGHT\nx , y , 2\n")
    net = read_network(edges)
    assert _ties(net) == {("x", "y"): 2.0} and net.weight_column == "WEIGHT" and net.format == "csv"


def test_ids_are_text_so_007_and_7_are_two_people(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target\n007,7\n7,08\n")
    net = read_network(edges)
    assert net.ids == ["007", "7", "08"]  # first seen in the edges, row by row
    assert _ties(net) == {("007", "7"): 1.0, ("08", "7"): 1.0}


def test_without_a_weight_column_every_tie_weighs_one_even_listed_twice(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target\na,b\na,b\nb,a\nb,c\n")
    net = read_network(edges)
    assert net.weight_column is None and _ties(net) == {("a", "b"): 1.0, ("b", "c"): 1.0}
    assert "no weight column: every tie weighs 1" in net.notes
    assert "2 duplicate ties merged (no weights: each still weighs 1)" in net.notes


def test_gephi_edges_said_directed_are_read_undirected_unless_asked(tmp_path):
    text = "Source,Target,Type,Id,Label,Weight\n1,2,Directed,0,,1.5\n2,1,Directed,1,,0.5\n2,3,Directed,2,,1\n"
    edges = _file(tmp_path, "gephi.csv", text)
    net = read_network(edges)
    assert net.format == "gephi" and net.weight_column == "Weight"
    assert _ties(net) == {("1", "2"): 2.0, ("2", "3"): 1.0}
    assert "the file's Type column says every tie is directed" in net.notes
    assert any("read as undirected" in n and "--directed reads them so" in n for n in net.notes)
    directed = read_network(edges, directed=True)
    assert directed.directed and _ties(directed) == {("1", "2"): 1.5, ("2", "1"): 0.5, ("2", "3"): 1.0}
    assert directed.graph[0, 1] == 1.5 and directed.graph[1, 0] == 0.5 and directed.graph[2, 1] == 0


def test_gephi_undirected_ties_count_both_ways_when_read_directed(tmp_path):
    edges = _file(tmp_path, "g.csv", "Source,Target,Type\na,b,Undirected\nb,c,Directed\n")
    net = read_network(edges, directed=True)
    assert _ties(net) == {("a", "b"): 1.0, ("b", "a"): 1.0, ("b", "c"): 1.0}
    assert "the file's Type column says 1 of 2 ties are directed" in net.notes
    assert "read as directed: 1 tie the file marks undirected count both ways" in net.notes


def test_a_type_column_that_is_not_a_direction_is_an_ordinary_column(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target,type\na,b,friend\nb,c,work\n")
    net = read_network(edges, directed=True)
    assert net.format == "csv" and _ties(net) == {("a", "b"): 1.0, ("b", "c"): 1.0}


def test_kumu_connections_use_strength_and_direction(tmp_path):
    edges = _file(tmp_path, "kumu.csv", "From,To,Direction,Strength\nAda,Bo,mutual,2\nBo,Cy,directed,3\n")
    net = read_network(edges, directed=True)
    assert net.format == "kumu" and net.weight_column == "Strength"
    assert _ties(net) == {("Ada", "Bo"): 2.0, ("Bo", "Ada"): 2.0, ("Bo", "Cy"): 3.0}
    plain = read_network(_file(tmp_path, "k2.csv", "From,To,Strength\nAda,Bo,2\n"))
    assert plain.format == "kumu" and _ties(plain) == {("Ada", "Bo"): 2.0}
    assert any("Kumu reads such connections as directed" in n for n in plain.notes)


VIVA = (
    "PrimaryCollaborator_PersonId,SecondaryCollaborator_PersonId,MetricDate,Diverse_tie_score,Diverse_tie_type,"
    "Strong_tie_score,Strong_tie_type,PrimaryCollaborator_Organization,SecondaryCollaborator_Organization,"
    "PrimaryCollaborator_LevelDesignation,SecondaryCollaborator_LevelDesignation\n"
)


def test_a_viva_insights_export_carries_its_people_s_attributes(tmp_path):
    rows = [
        "p1,p2,2024-01-01,0.5,1,2,1,Sales,Eng,Junior,Senior",
        "p2,p3,2024-01-01,0.25,1,4,1,Eng,Eng,Senior,Junior",
        "p3,p4,2024-01-01,1,1,1,1,Eng,Sales,Junior,Manager",
    ]
    edges = _file(tmp_path, "p2p.csv", VIVA + "\n".join(rows) + "\n")
    net = read_network(edges)
    assert net.format == "viva" and net.weight_column == "Strong_tie_score"
    assert _ties(net) == {("p1", "p2"): 2.0, ("p2", "p3"): 4.0, ("p3", "p4"): 1.0}
    assert net.ids == ["p1", "p2", "p3", "p4"]
    assert net.attributes.to_dict("index") == {
        "p1": {"Organization": "Sales", "LevelDesignation": "Junior"},
        "p2": {"Organization": "Eng", "LevelDesignation": "Senior"},
        "p3": {"Organization": "Eng", "LevelDesignation": "Junior"},
        "p4": {"Organization": "Sales", "LevelDesignation": "Manager"},
    }
    assert any("Strong_tie_score" in n and "Diverse_tie_score" in n and "--weight" in n for n in net.notes)
    labels, names = partition(net, "Organization")
    assert names == ["Eng", "Sales"] and labels.tolist() == [1, 0, 0, 1]
    diverse = read_network(edges, weight="diverse_tie_score")
    assert diverse.weight_column == "Diverse_tie_score"
    assert _ties(diverse) == {("p1", "p2"): 0.5, ("p2", "p3"): 0.25, ("p3", "p4"): 1.0}


def test_a_viva_export_of_several_periods_sums_them_and_keeps_the_last_attribute(tmp_path):
    rows = [
        "p1,p2,2024-01-01,0,0,2,1,Sales,Eng,J,S",
        "p1,p2,2024-02-01,0,0,3,1,Marketing,Eng,J,S",
        "p2,p1,2024-03-01,0,0,1,1,Eng,Marketing,S,J",
    ]
    net = read_network(_file(tmp_path, "p2p.csv", VIVA + "\n".join(rows) + "\n"))
    assert _ties(net) == {("p1", "p2"): 6.0}
    assert net.attributes.loc["p1", "Organization"] == "Marketing"
    assert net.node_lines.tolist() == [4, 4]  # the row (file line) the kept values came from
    assert any("3 periods (MetricDate)" in n for n in net.notes)
    assert "1 person has more than one Organization in the file: the last row's value is kept" in net.notes
    assert "2 duplicate ties merged (weights summed)" in net.notes


def test_a_node_file_overrides_a_viva_export_s_attributes(tmp_path):
    edges = _file(tmp_path, "p2p.csv", VIVA + "p1,p2,d,0,0,1,1,Sales,Eng,J,S\n")
    nodes = _file(tmp_path, "hr.csv", "PersonId,Organization,Site\np2,Finance,Oslo\np1,Sales,Rome\n")
    net = read_network(edges, nodes)
    assert net.ids == ["p2", "p1"]
    assert net.attributes.loc["p2"].to_dict() == {"Organization": "Finance", "Site": "Oslo", "LevelDesignation": "S"}
    assert net.node_lines.tolist() == [2, 3]


def _graph() -> nx.Graph:
    graph = nx.Graph()
    graph.add_node("a", dept="sales", level=2)
    graph.add_node("b", dept="ops", level=1)
    graph.add_node("c", dept="ops", level=1)
    graph.add_node("z", dept="ops", level=3)  # isolated
    graph.add_edge("a", "b", weight=2.5, kind="mail")
    graph.add_edge("b", "c", weight=1.0, kind="chat")
    return graph


@pytest.mark.parametrize("suffix", ["graphml", "gexf"])
def test_graphml_and_gexf_written_by_networkx_read_back(tmp_path, suffix):
    path = tmp_path / f"org.{suffix}"
    (nx.write_graphml if suffix == "graphml" else nx.write_gexf)(_graph(), path)
    net = read_network(path)
    assert net.format == suffix and net.ids == ["a", "b", "c", "z"] and net.weight_column == "weight"
    assert _ties(net) == {("a", "b"): 2.5, ("b", "c"): 1.0}
    assert net.attributes.loc["a", "dept"] == "sales" and net.attributes.loc["z", "dept"] == "ops"
    labels, names = partition(net, "dept")
    assert names == ["ops", "sales"] and labels.tolist() == [1, 0, 0, 0]
    assert "1 node without ties kept (isolated)" in net.notes


@pytest.mark.parametrize("suffix", ["graphml", "gexf"])
def test_a_node_file_adds_and_overrides_a_graph_file_s_attributes(tmp_path, suffix):
    path = tmp_path / f"org.{suffix}"
    (nx.write_graphml if suffix == "graphml" else nx.write_gexf)(_graph(), path)
    nodes = _file(tmp_path, "nodes.csv", "id,dept,site\nc,sales,lyon\nnew,ops,rome\n")
    net = read_network(path, nodes)
    assert net.ids == ["c", "new", "a", "b", "z"]
    assert net.attributes.loc["c", "dept"] == "sales" and net.attributes.loc["a", "dept"] == "sales"
    assert net.attributes.loc["c", "site"] == "lyon" and net.attributes.loc["a", "site"] == ""
    with pytest.raises(ScenarioError) as excinfo:
        partition(net, "site", flag="--community-by")
    first = _problems(excinfo)[0]
    assert first.source == str(nodes) and first.path == "site" and first.line is None
    assert "node 'a' has no site" in first.message and "--community-by site" in first.message


def test_a_graph_file_s_other_edge_attribute_is_a_weight_by_name(tmp_path):
    graph = nx.DiGraph()
    graph.add_edge("a", "b", hours="3")
    graph.add_edge("b", "a", hours="1")
    path = tmp_path / "d.graphml"
    nx.write_graphml(graph, path)
    net = read_network(path, weight="Hours")
    assert net.weight_column == "hours" and _ties(net) == {("a", "b"): 4.0}
    assert "the file says its ties are directed (GraphML edge default)" in net.notes
    assert any("--directed reads them so" in n and "1 pair listed both ways" in n for n in net.notes)
    directed = read_network(path, weight="hours", directed=True)
    assert _ties(directed) == {("a", "b"): 3.0, ("b", "a"): 1.0}
    unweighted = read_network(path)
    assert unweighted.weight_column is None and _ties(unweighted) == {("a", "b"): 1.0}


def test_an_undirected_graph_file_read_directed_counts_each_tie_both_ways(tmp_path):
    path = tmp_path / "u.graphml"
    nx.write_graphml(_graph(), path)
    net = read_network(path, directed=True)
    assert _ties(net) == {("a", "b"): 2.5, ("b", "a"): 2.5, ("b", "c"): 1.0, ("c", "b"): 1.0}


# --- cleaning, said in the notes -----------------------------------------------------------------------------------


def test_self_loops_are_dropped_and_duplicates_merged_with_their_counts(tmp_path):
    text = "source,target,weight\na,a,1\nb,b,2\nc,c,1\na,b,1\nb,a,2\na,b,3\nb,c,1\n"
    edges = _file(tmp_path, "e.csv", text)
    net = read_network(edges)
    assert _ties(net) == {("a", "b"): 6.0, ("b", "c"): 1.0}
    assert "3 self-loops dropped" in net.notes
    assert "2 duplicate ties merged (weights summed)" in net.notes
    assert "read as undirected: a tie listed both ways is one tie (1 pair listed both ways)" in net.notes
    directed = read_network(edges, directed=True)
    assert _ties(directed) == {("a", "b"): 4.0, ("b", "a"): 2.0, ("b", "c"): 1.0}
    assert "1 duplicate tie merged (weights summed)" in directed.notes
    assert any(n.startswith("read as directed") and "two ties" in n for n in directed.notes)


def test_ties_of_weight_zero_are_dropped_and_their_people_kept(tmp_path):
    net = read_network(_file(tmp_path, "e.csv", "source,target,weight\na,b,0\nb,c,2\nc,a,0.0\n"))
    assert _ties(net) == {("b", "c"): 2.0} and net.ids == ["a", "b", "c"]
    assert "2 ties of weight 0 dropped" in net.notes and "1 node without ties kept (isolated)" in net.notes


def test_blank_lines_are_skipped_and_lines_still_counted(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target,weight\na,b,1\n\nb,c,x\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    assert _one(excinfo).line == 4


def test_a_tab_separated_file(tmp_path):
    net = read_network(_file(tmp_path, "e.tsv", "source\ttarget\tweight\na\tb\t2\n"))
    assert _ties(net) == {("a", "b"): 2.0}


def test_an_excel_byte_order_mark_does_not_hide_the_first_column(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes("\ufeffsource,target\na,b\n".encode())
    assert _ties(read_network(path)) == {("a", "b"): 1.0}


# --- bad input -----------------------------------------------------------------------------------------------------


def test_missing_id_columns_name_the_spellings_and_the_nearest_column(tmp_path):
    edges = _file(tmp_path, "e.csv", "sorce,target,weight\na,b,1\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    problem = _one(excinfo)
    assert (problem.source, problem.line, problem.path) == (str(edges), 1, "source")
    assert "did you mean 'sorce'?" in problem.message
    assert "Kumu: From,To" in problem.message and "PrimaryCollaborator_PersonId" in problem.message


def test_missing_viva_column_is_named_against_the_closest_spelling(tmp_path):
    edges = _file(tmp_path, "e.csv", "PrimaryCollaborator_PersonId,SecondaryCollaborator_PersonID2\na,b\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    problem = _one(excinfo)
    assert problem.path == "SecondaryCollaborator_PersonId" and problem.line == 1
    assert "did you mean 'SecondaryCollaborator_PersonID2'?" in problem.message


def test_no_columns_in_common_lists_the_file_s_columns(tmp_path):
    edges = _file(tmp_path, "e.csv", "alpha,beta\na,b\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    assert [p.path for p in _problems(excinfo)] == ["source", "target"]
    assert "(the file's columns: alpha, beta)" in _problems(excinfo)[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "empty file"), ("source,target,weight\n", "no ties: the file has a header but no rows")],
)
def test_an_empty_edge_file(tmp_path, text, expected):
    edges = _file(tmp_path, "e.csv", text)
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    assert _one(excinfo).source == str(edges) and expected in _one(excinfo).message


def test_every_bad_weight_is_named_by_line_and_column(tmp_path):
    rows = ["a,b,1", "a,c,abc", "b,c,", "c,d,-2", "d,e,nan", 'e,f,"1,5"', "f,g,inf"]
    edges = _file(tmp_path, "e.csv", "source,target,weight\n" + "\n".join(rows) + "\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    problems = _problems(excinfo)
    assert [(p.line, p.path) for p in problems] == [(line, "weight") for line in (3, 4, 5, 6, 7, 8)]
    assert all(p.source == str(edges) for p in problems)
    messages = [p.message for p in problems]
    assert messages[0] == "not a number: 'abc': expected a number ≥ 0"
    assert messages[1] == "no weight: expected a number ≥ 0"
    assert messages[2] == "negative weight -2: expected a number ≥ 0"
    assert messages[3] == "NaN is not a weight: expected a number ≥ 0"
    assert "decimal comma" in messages[4]
    assert messages[5] == "not a finite number: 'inf': expected a number ≥ 0"


def test_many_bad_rows_list_the_first_few_and_count_the_rest(tmp_path):
    rows = [f"a{k},b{k},x" for k in range(12)]
    edges = _file(tmp_path, "e.csv", "source,target,weight\n" + "\n".join(rows) + "\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    problems = _problems(excinfo)
    assert [p.line for p in problems] == [2, 3, 4, 5, 6, 7]
    assert problems[-1].message.startswith("7 more rows from here on with the same problem (12 in all)")


def test_an_unknown_weight_column_names_the_nearest(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target,weight\na,b,1\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges, weight="wieght")
    problem = _one(excinfo)
    assert (problem.line, problem.path) == (1, "wieght") and "did you mean 'weight'?" in problem.message


def test_an_unknown_graph_weight_attribute_names_the_nearest(tmp_path):
    path = tmp_path / "g.gexf"
    nx.write_gexf(_graph(), path)
    with pytest.raises(ScenarioError) as excinfo:
        read_network(path, weight="kinds")
    assert _one(excinfo).path == "kinds" and "did you mean 'kind'?" in _one(excinfo).message


def test_a_non_numeric_graph_weight(tmp_path):
    graph = nx.Graph()
    graph.add_edge("a", "b", weight="heavy")
    graph.add_edge("b", "c", weight="2")
    path = tmp_path / "g.graphml"
    nx.write_graphml(graph, path)
    with pytest.raises(ScenarioError) as excinfo:
        read_network(path)
    problem = _one(excinfo)
    assert problem.source == str(path) and problem.path == "weight"
    expected = "1 edge with a weight that is not a finite number ≥ 0 (a - b: 'heavy'): every edge needs a number ≥ 0"
    assert problem.message == expected


def test_ids_absent_from_the_node_file_are_listed_with_their_lines(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target\na,b\nb,cc\nx,a\n")
    nodes = _file(tmp_path, "n.csv", "id,dept\na,1\nb,1\nc,2\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges, nodes)
    problems = _problems(excinfo)
    assert [(p.source, p.line, p.path) for p in problems] == [(str(edges), 3, "target"), (str(edges), 4, "source")]
    assert "id 'cc' is not in the node file" in problems[0].message and "did you mean 'c'?" in problems[0].message
    assert "'x'" in problems[1].message


def test_many_absent_ids_are_counted(tmp_path):
    rows = [f"a,m{k}" for k in range(8)]
    edges = _file(tmp_path, "e.csv", "source,target\n" + "\n".join(rows) + "\n")
    nodes = _file(tmp_path, "n.csv", "id\na\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges, nodes)
    problems = _problems(excinfo)
    assert len(problems) == 6 and problems[-1].line == 7
    assert "3 more ties from here on name ids absent from the node file (8 distinct ids in all)" in problems[-1].message


def test_a_malformed_csv_says_what_the_parser_said_and_where(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target\na,b\nb,c,d\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    problem = _one(excinfo)
    assert problem.line == 3 and "not a readable CSV file" in problem.message and "Expected 2 fields" in problem.message


@pytest.mark.parametrize("suffix", ["graphml", "gexf"])
def test_malformed_xml_gives_its_line(tmp_path, suffix):
    path = tmp_path / f"g.{suffix}"
    (nx.write_graphml if suffix == "graphml" else nx.write_gexf)(_graph(), path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:6]) + "\n<broken\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(path)
    problem = _one(excinfo)
    assert problem.source == str(path) and problem.line == 7 and "not well-formed XML" in problem.message


def test_xml_that_is_not_graphml(tmp_path):
    path = _file(tmp_path, "g.graphml", "<?xml version='1.0'?>\n<html><body/></html>\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(path)
    assert _one(excinfo).source == str(path)


def test_duplicate_ids_in_the_node_file(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target\na,b\n")
    nodes = _file(tmp_path, "n.csv", "id,dept\na,1\nb,1\na,2\nb,3\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges, nodes)
    problems = _problems(excinfo)
    assert [(p.source, p.line, p.path) for p in problems] == [(str(nodes), 4, "id"), (str(nodes), 5, "id")]
    assert problems[0].message == "duplicate id 'a': already at line 2; each node once"


def test_a_node_file_without_an_id_column(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target\na,b\n")
    nodes = _file(tmp_path, "n.csv", "ids,dept\na,1\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges, nodes)
    problem = _one(excinfo)
    assert (problem.source, problem.line, problem.path) == (str(nodes), 1, "id")
    assert "id, node, PersonId, name, Label" in problem.message and "did you mean 'ids'?" in problem.message


def test_empty_ids_are_named_by_line(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target\na,b\n ,c\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges)
    assert (_one(excinfo).line, _one(excinfo).path) == (3, "source") and "no id" in _one(excinfo).message


def test_the_problems_of_both_files_come_in_one_error(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target,weight\na,b,x\n")
    nodes = _file(tmp_path, "n.csv", "id\na\na\nb\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(edges, nodes)
    assert {p.source for p in _problems(excinfo)} == {str(edges), str(nodes)}


def test_a_missing_file_names_the_nearest_beside_it(tmp_path):
    _file(tmp_path, "edges.csv", "source,target\na,b\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(tmp_path / "edgse.csv")
    assert "no such file (did you mean 'edges.csv'?)" in _one(excinfo).message
    with pytest.raises(ScenarioError) as excinfo:
        read_network(tmp_path)
    assert "a folder, not a file" in _one(excinfo).message


def test_a_file_that_is_not_text(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(b"source,target\n\xff\xfe,\x81\n")
    with pytest.raises(ScenarioError) as excinfo:
        read_network(path)
    assert "not a UTF-8 text file" in _one(excinfo).message


# --- partition -----------------------------------------------------------------------------------------------------


def _small(tmp_path: Path, nodes_text: str) -> ObservedNetwork:
    edges = _file(tmp_path, "e.csv", "source,target\na,b\nb,c\nc,d\n")
    return read_network(edges, _file(tmp_path, "n.csv", nodes_text))


def test_partition_numbers_groups_in_sorted_order(tmp_path):
    net = _small(tmp_path, "id,Dept\na,sales\nb,ops\nc,hr\nd,ops\n")
    labels, names = partition(net, "dept")  # matched ignoring case
    assert names == ["hr", "ops", "sales"] and labels.tolist() == [2, 1, 0, 1] and labels.dtype == np.int64


def test_partition_of_an_unknown_attribute_names_the_nearest(tmp_path):
    net = _small(tmp_path, "id,department,site\na,1,x\nb,1,x\nc,2,y\nd,2,y\n")
    with pytest.raises(ScenarioError) as excinfo:
        partition(net, "departement", flag="--community-by")
    problem = _one(excinfo)
    assert (problem.source, problem.path) == ("--community-by", "departement")
    assert "did you mean 'department'?" in problem.message


def test_partition_without_any_attribute_asks_for_a_node_file(tmp_path):
    net = read_network(_file(tmp_path, "e.csv", "source,target\na,b\n"))
    with pytest.raises(ScenarioError) as excinfo:
        partition(net, "dept")
    assert "--nodes" in _one(excinfo).message


def test_partition_names_the_nodes_without_a_value_and_their_lines(tmp_path):
    net = _small(tmp_path, "id,dept\na,sales\nb,\nc,ops\nd, \n")
    with pytest.raises(ScenarioError) as excinfo:
        partition(net, "dept")
    problems = _problems(excinfo)
    assert [(p.source, p.line, p.path) for p in problems] == [
        (str(net.nodes_path), 3, "dept"),
        (str(net.nodes_path), 5, "dept"),
    ]
    assert "node 'b' has no dept" in problems[0].message and "node 'd'" in problems[1].message


def test_partition_counts_the_rest_of_many_nodes_without_a_value(tmp_path):
    edges = _file(tmp_path, "e.csv", "source,target\n" + "\n".join(f"n{k},n{k + 1}" for k in range(9)) + "\n")
    nodes = _file(tmp_path, "n.csv", "id,dept\n" + "\n".join(f"n{k}," for k in range(10)) + "\n")
    with pytest.raises(ScenarioError) as excinfo:
        partition(read_network(edges, nodes), "dept")
    problems = _problems(excinfo)
    assert len(problems) == 6 and problems[-1].line == 7
    assert "5 more nodes from node 'n5' on have no dept (10 in all)" in problems[-1].message


# --- the shipped example -------------------------------------------------------------------------------------------


def test_the_karate_club_example_reads_as_zachary_s_network():
    net = read_network(KARATE / "edges.csv", KARATE / "nodes.csv")
    assert net.n == 34 and len(net.source) == 78 and net.weight_column == "weight"
    assert net.ids == [str(k) for k in range(1, 35)]
    labels, names = partition(net, "club")
    assert names == ["Mr. Hi", "Officer"] and np.bincount(labels).tolist() == [17, 17]
    karate = nx.karate_club_graph()
    expected = nx.to_scipy_sparse_array(karate, nodelist=range(34), weight="weight")
    assert abs(net.graph - expected).sum() == 0
    assert [names[g] for g in labels] == [karate.nodes[k]["club"] for k in range(34)]
    faction, sides = partition(net, "faction")
    assert sides == ["John A.", "Mr. Hi", "none"] and np.bincount(faction).tolist() == [16, 15, 3]
    assert net.attributes.loc["1", "role"] == "Instructor" and net.attributes.loc["34", "role"] == "President"


def test_the_karate_files_are_what_their_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_karate", KARATE / "make_karate.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    edges, nodes = script.write(tmp_path)
    assert edges.read_bytes() == (KARATE / "edges.csv").read_bytes()
    assert nodes.read_bytes() == (KARATE / "nodes.csv").read_bytes()
