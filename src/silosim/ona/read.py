"""A real organisation's network read from the files ONA tools export: edge lists, node files, GraphML, GEXF.

:func:`read_network` reads the ties (and the people's attributes) into an
:class:`ObservedNetwork`; :func:`partition` turns one attribute into the
integer groups the measures of :mod:`silosim.network` take.

Edge files, told apart by their suffix and, for CSV, by their header (column
names matched case-insensitively, surrounding spaces ignored):

- ``.graphml`` (GraphML) and ``.gexf`` (GEXF), read with networkx; node
  attributes come from the file; scalar attributes only (GEXF's ``viz``
  drawing data is left out);
- any other suffix is a CSV (``.tsv``/``.tab``: tab-separated) edge list in
  one of these spellings:

  ========  ===============================================  ==============================================
  format    id columns                                       weight (the first present)
  ========  ===============================================  ==============================================
  viva      ``PrimaryCollaborator_PersonId``,                ``Strong_tie_score``, ``Diverse_tie_score``
            ``SecondaryCollaborator_PersonId``
  gephi     ``Source``, ``Target`` (``Type``: Directed or    ``Weight``
            Undirected)
  csv       ``source``, ``target``                           ``weight``
  kumu      ``From``, ``To`` (``Direction``: directed,       ``Strength``, ``Weight``
            undirected or mutual)
  ========  ===============================================  ==============================================

  Microsoft Viva Insights person-to-person ("collaboration between
  individuals") exports name each tie's two people
  ``PrimaryCollaborator_PersonId`` and ``SecondaryCollaborator_PersonId``,
  carry ``Strong_tie_score`` and ``Diverse_tie_score`` (with their
  ``*_tie_type``), a ``MetricDate`` per period, and each person's HR
  attributes as ``PrimaryCollaborator_<attr>`` / ``SecondaryCollaborator_<attr>``
  (the column list of the vivainsights package's sample ``p2p_data``,
  https://microsoft.github.io/vivainsights/reference/p2p_data.html, and
  https://learn.microsoft.com/en-us/viva/insights/advanced/analyst/cross-collaboration-p2p).
  Those attribute columns become node attribute ``<attr>`` for both ends of
  every tie, so such a file needs no node file. The strong-tie score is the
  default weight because it measures close, reciprocal collaboration; pass
  ``weight="Diverse_tie_score"`` for the other one.

A node file (CSV) has an id column, the first present of ``id``, ``node``,
``PersonId``, ``name``, ``Label`` (Kumu's elements use their ``Label`` as the
id), and one column per attribute (department, community, internal/external…),
read as text.

How the data is cleaned (every step is said, with its count, in
:attr:`ObservedNetwork.notes`):

- ids are text, as written (spaces around them dropped): ``007`` and ``7`` are
  two people;
- a self-loop (a person tied to themself) is dropped;
- a tie of weight 0 is dropped (it adds nothing to a weighted measure, and a
  tie counted by a count-based measure should weigh something);
- duplicate ties are merged, their weights summed (without a weight column
  every tie weighs 1, and a tie listed twice still weighs 1: the file says
  it exists, not how strong it is);
- undirected (the default): a tie listed both ways is one tie; directed: the
  first id's tie to the second.

Direction is the caller's choice (``directed``, the command's ``--directed``),
never the file's: Gephi's edge tables say ``Type=Directed`` and Kumu reads
connections as directed by default whatever the data means (a survey's "who do
you work with" is one tie, whoever answered), and GraphML/GEXF files are often
declared directed only because the tool that wrote them defaults to it. When the file
says its ties are directed but they are read undirected, a note says so and
how to read them directed; read directed, ties the file marks undirected
(Gephi ``Undirected``, Kumu ``undirected``/``mutual``, every tie of an
undirected GraphML/GEXF) count both ways.

Bad input raises one :class:`~silosim.scenario.errors.ScenarioError` with
every problem of both files: file, line (CSV lines counted with the header as
line 1; a quoted field spanning lines shifts the count), column, what was
expected and the nearest valid name.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from silosim import network as tie_network
from silosim.analysis.text import plural
from silosim.scenario.errors import Problem, ScenarioError, nearest

SHOWN = 5  # problems of one kind listed in full before the rest are counted
_NEAREST_IDS = 20_000  # ids looked through for a "did you mean" hint (difflib is slow on more)


@dataclass(frozen=True, eq=False)  # compared by identity: its arrays have no single truth value
class ObservedNetwork:
    """An organisation's observed ties and its people's attributes, cleaned (:func:`read_network`).

    Attributes:
        ids: node ids as text; node ``i`` of every array is ``ids[i]``.
        attributes: one row per node (index: the ids, in node order), one column per node attribute,
            values as text ("" where a node has no value).
        source: each tie's first node (int64), after cleaning: no self-loops, duplicates merged, no zero weights.
        target: each tie's second node.
        weight: each tie's weight (float64; 1 when the file has no weights).
        directed: ``source → target`` ties; otherwise each tie is listed once and counts both ways.
        graph: the tie matrix, ``network.graph_from_edges(source, target, weight, n, directed=directed)``.
        notes: plain sentences saying how the file was read: weights, direction, duplicates, self-loops, counts.
        edges_path: the edge file.
        nodes_path: the node file, if any.
        weight_column: the column (or GraphML/GEXF edge attribute) the weights came from; None: every tie weighs 1.
        format: ``"csv"``, ``"gephi"``, ``"kumu"``, ``"viva"``, ``"graphml"`` or ``"gexf"``.
        node_lines: each node's line in the file its attributes came from (``nodes_path`` when there is one,
            else ``edges_path``: a Viva export's row the attributes were taken from); 0 where unknown.
    """

    ids: list[str]
    attributes: pd.DataFrame
    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    directed: bool
    graph: sp.csr_array
    notes: list[str]
    edges_path: Path
    nodes_path: Path | None
    weight_column: str | None
    format: str
    node_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.ids)


@dataclass(frozen=True)
class _Spelling:
    """One tool's names for an edge list's columns."""

    format: str
    source: str
    target: str
    weights: tuple[str, ...]


_SPELLINGS = (
    _Spelling(
        "viva",
        "PrimaryCollaborator_PersonId",
        "SecondaryCollaborator_PersonId",
        ("Strong_tie_score", "Diverse_tie_score"),
    ),
    _Spelling("csv", "source", "target", ("weight",)),
    _Spelling("kumu", "From", "To", ("Strength", "Weight")),
)
_ACCEPTED = (
    "source,target[,weight] (Gephi: Source,Target,Weight,Type; Kumu: From,To,Strength; "
    "Viva Insights: PrimaryCollaborator_PersonId,SecondaryCollaborator_PersonId)"
)
_VIVA_PREFIXES = ("PrimaryCollaborator_", "SecondaryCollaborator_")
_ID_COLUMNS = ("id", "node", "PersonId", "name", "Label")
_DIRECTIONS = {"directed": False, "undirected": True, "mutual": True}  # value -> counts both ways


@dataclass
class _Edges:
    """The ties of an edge file as read, before cleaning."""

    source: np.ndarray  # ids (object array of str)
    target: np.ndarray
    weight: np.ndarray | None
    lines: np.ndarray | None  # CSV line of each tie (header: line 1); None for GraphML/GEXF
    both_ways: np.ndarray | None  # ties the file marks undirected (count both ways when read directed)
    format: str
    weight_column: str | None
    id_columns: tuple[str, str]
    notes: list[str]
    nodes: list[str] | None = None  # nodes the file declares (GraphML/GEXF), in file order
    attributes: pd.DataFrame | None = None  # node attributes the edge file carries, index: ids
    attribute_lines: pd.Series | None = None  # the line each node's attributes came from
    says_directed: bool = False  # the file declares some of its ties directed


@dataclass
class _Nodes:
    """A node file as read."""

    ids: list[str]
    attributes: pd.DataFrame  # index: ids
    lines: np.ndarray
    id_column: str


def read_network(
    edges: Path, nodes: Path | None = None, *, weight: str | None = None, directed: bool = False
) -> ObservedNetwork:
    """Read an organisation's network from its edge file and, optionally, its node file.

    Args:
        edges: the ties: a CSV edge list (plain, Gephi, Kumu or Viva Insights spelling), GraphML or GEXF.
        nodes: a CSV with an id column and the people's attributes; its nodes come first, in its order,
            and the ones without ties are kept (isolated). With a CSV edge list every id of a tie must be in
            it; with GraphML/GEXF it adds attributes (and nodes) to the file's own.
        weight: the column (GraphML/GEXF: edge attribute) holding tie weights, matched case-insensitively;
            None: the spelling's weight column if present (GraphML/GEXF: ``weight``), else every tie weighs 1.
        directed: read ``source → target`` ties; otherwise undirected (a tie listed both ways is one tie).

    Returns:
        The cleaned network, with notes saying how it was read.

    Raises:
        ScenarioError: every problem of the two files (file, line, column, what was expected, nearest name).
    """
    edges_path = Path(edges)
    nodes_path = Path(nodes) if nodes is not None else None
    problems: list[Problem] = []
    suffix = edges_path.suffix.lower()
    read = None
    if _readable(edges_path, problems):
        if suffix in (".graphml", ".gexf"):
            read = _graph_edges(edges_path, suffix[1:], weight, problems)
        else:
            read = _csv_edges(edges_path, weight, problems)
    table = None
    if nodes_path is not None and _readable(nodes_path, problems):
        table = _csv_nodes(nodes_path, problems)
    if read is not None and table is not None and read.lines is not None:
        problems += _absent_ids(read, table, edges_path, nodes_path)
    if problems:
        raise ScenarioError(problems)
    assert read is not None and (nodes_path is None or table is not None)  # every failure added a problem
    return _assemble(read, table, edges_path, nodes_path, directed)


def partition(network: ObservedNetwork, attribute: str, *, flag: str = "--group-by") -> tuple[np.ndarray, list[str]]:
    """Each node's group by one attribute: the partition the measures of :mod:`silosim.network` take.

    Args:
        network: the network read by :func:`read_network`.
        attribute: the node attribute whose values are the groups (matched exactly, else case-insensitively).
        flag: the command-line flag that named it, for messages.

    Returns:
        ``(labels, names)``: an int64 group per node, 0..G-1, groups numbered in the sorted order of
        their names; and the names.

    Raises:
        ScenarioError: the attribute is unknown (with the nearest attribute name), or some nodes have no
            value for it (the first few ids, with their lines in the node file).
    """
    columns = [str(c) for c in network.attributes.columns]
    name = attribute
    if name not in columns:
        folded = [c for c in columns if c.lower() == attribute.lower()]
        if len(folded) != 1:
            raise ScenarioError([Problem(flag, None, attribute, _unknown_attribute(network, attribute, columns))])
        name = folded[0]
    values = network.attributes[name].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    missing = np.flatnonzero(values == "")
    if len(missing):
        source = str(network.nodes_path or network.edges_path)
        lines = network.node_lines if len(network.node_lines) == network.n else np.zeros(network.n, dtype=np.int64)
        problems = [
            Problem(
                source,
                int(lines[i]) or None,
                name,
                f"node {network.ids[i]!r} has no {name}: every node needs a value for {flag} {attribute} "
                "(give it one, or leave the node out of the files)",
            )
            for i in missing[:SHOWN]
        ]
        if len(missing) > SHOWN:
            i = missing[SHOWN]
            problems.append(
                Problem(
                    source,
                    int(lines[i]) or None,
                    name,
                    f"{plural(len(missing) - SHOWN, 'more node')} from node {network.ids[i]!r} on "
                    f"{'has' if len(missing) == SHOWN + 1 else 'have'} no {name} "
                    f"({len(missing)} in all)",
                )
            )
        raise ScenarioError(problems)
    names = sorted(set(values.tolist()))
    labels = pd.Categorical(values, categories=names).codes.astype(np.int64)
    return labels, names


# --- reading files -------------------------------------------------------------------------------------------------


def _readable(path: Path, problems: list[Problem]) -> bool:
    """Whether ``path`` is a file; otherwise a problem saying why not (and the nearest file beside it)."""
    if path.is_file():
        return True
    if path.is_dir():
        problems.append(Problem(str(path), None, "", "a folder, not a file: give the CSV, GraphML or GEXF file"))
        return False
    there = sorted(p.name for p in path.parent.iterdir() if p.is_file()) if path.parent.is_dir() else []
    hint = nearest(path.name, there) if there else ""
    problems.append(Problem(str(path), None, "", "no such file" + (hint if "did you mean" in hint else "")))
    return False


def _read_csv(path: Path, problems: list[Problem]) -> pd.DataFrame | None:
    """Every cell of a CSV as text ("" where empty), or None and a problem; spaces around names dropped."""
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    source = str(path)
    try:
        # skip_blank_lines=False keeps row k on line k + 2; blank rows are dropped after
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig", sep=sep
        )
    except pd.errors.EmptyDataError:
        problems.append(Problem(source, None, "", "empty file: expected a header line naming the columns"))
        return None
    except pd.errors.ParserError as exc:
        text = str(exc).strip().removeprefix("Error tokenizing data. C error: ")
        found = re.search(r"in line (\d+)", text)
        line = int(found.group(1)) if found else None
        problems.append(Problem(source, line, "", f"not a readable CSV file: {text}"))
        return None
    except UnicodeDecodeError:
        problems.append(Problem(source, None, "", "not a UTF-8 text file: expected a CSV file"))
        return None
    except OSError as exc:
        problems.append(Problem(source, None, "", f"cannot read file: {exc.strerror or exc}"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.fillna("")
    blank = (frame == "").all(axis=1).to_numpy()
    frame.index = np.arange(2, len(frame) + 2)  # each row's line in the file
    return frame[~blank]


def _column(frame: pd.DataFrame, name: str) -> str | None:
    """The frame's column spelled ``name`` up to case, or None."""
    for column in frame.columns:
        if column.lower() == name.lower():
            return column
    return None


def _hint(word: str, present: list[str]) -> str:
    """A "did you mean" naming the nearest present column, else the columns present."""
    hint = nearest(word, present)
    if "did you mean" in hint:
        return hint
    return f" (the file's columns: {', '.join(present)})" if present else " (the file has no columns)"


def _ids(frame: pd.DataFrame, column: str, source: str, problems: list[Problem]) -> np.ndarray:
    """A column of ids, stripped; a problem for each empty one."""
    values = frame[column].str.strip()
    empty = values.index[(values == "").to_numpy()]
    problems += _listed(source, column, empty.to_numpy(), "no id: expected an id in every row")
    return values.to_numpy(dtype=object)


def _listed(source: str, column: str, lines: np.ndarray, message: str) -> list[Problem]:
    """The first few rows with one problem, then one problem counting the rest."""
    problems = [Problem(source, int(line), column, message) for line in lines[:SHOWN]]
    if len(lines) > SHOWN:
        more = f"{plural(len(lines) - SHOWN, 'more row')} from here on with the same problem ({len(lines)} in all)"
        problems.append(Problem(source, int(lines[SHOWN]), column, f"{more}: {message}"))
    return problems


def _weights(frame: pd.DataFrame, column: str, source: str, problems: list[Problem]) -> np.ndarray:
    """A weight column as numbers; a problem (line, column) for every one not a finite number ≥ 0."""
    text = frame[column].str.strip()
    try:  # a compiled cast when every weight is a number (pyarrow's errors are ValueErrors)
        values = text.astype("float64").to_numpy(dtype=float)
    except (ValueError, TypeError):
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        kinds: dict[str, list[int]] = {}
        for line, raw, value in zip(frame.index[bad], text.to_numpy()[bad], values[bad], strict=True):
            kinds.setdefault(_weight_message(raw, value), []).append(line)
        for message, lines in kinds.items():
            problems += _listed(source, column, np.asarray(lines), message)
    return values


def _weight_message(raw: str, value: float) -> str:
    """What is wrong with one weight."""
    expected = "expected a number ≥ 0"
    if raw == "":
        return f"no weight: {expected}"
    if math.isnan(value) and raw.lower() in ("nan", "-nan", "+nan"):
        return f"NaN is not a weight: {expected}"
    if math.isnan(value):
        comma = " (a decimal comma? write 1.5, not 1,5)" if re.fullmatch(r"-?\d+,\d+", raw) else ""
        return f"not a number: {raw!r}: {expected}{comma}"
    if math.isinf(value):
        return f"not a finite number: {raw!r}: {expected}"
    return f"negative weight {raw}: {expected}"


def _pick_spelling(frame: pd.DataFrame) -> _Spelling | None:
    """The spelling whose two id columns are both present (Viva first: its names are the most specific)."""
    for spelling in _SPELLINGS:
        if _column(frame, spelling.source) and _column(frame, spelling.target):
            return spelling
    return None


def _missing_columns(frame: pd.DataFrame, source: str) -> list[Problem]:
    """Problems naming the id columns missing from the spelling the header is closest to."""
    present = list(frame.columns)

    def found(spelling: _Spelling) -> int:
        return sum(_column(frame, c) is not None for c in (spelling.source, spelling.target))

    best = max(_SPELLINGS, key=found) if any(found(s) for s in _SPELLINGS) else None
    if best is None:  # nothing matched: the spelling whose names are closest to a present column
        best = _SPELLINGS[1]
        for spelling in _SPELLINGS:
            if any("did you mean" in nearest(c, present) for c in (spelling.source, spelling.target)):
                best = spelling
                break
    needs = f"an edge list needs the columns {_ACCEPTED}"
    return [
        Problem(source, 1, name, f"missing column {name!r}: {needs}" + _hint(name, present))
        for name in (best.source, best.target)
        if _column(frame, name) is None
    ]


def _csv_edges(path: Path, weight: str | None, problems: list[Problem]) -> _Edges | None:
    """The ties of a CSV edge list in any of the spellings; problems for everything wrong with it."""
    source = str(path)
    frame = _read_csv(path, problems)
    if frame is None:
        return None
    spelling = _pick_spelling(frame)
    if spelling is None:
        problems += _missing_columns(frame, source)
        return None
    if frame.empty:
        problems.append(Problem(source, None, "", "no ties: the file has a header but no rows"))
        return None
    src_col, tgt_col = _column(frame, spelling.source), _column(frame, spelling.target)
    assert src_col is not None and tgt_col is not None
    ids_source = _ids(frame, src_col, source, problems)
    ids_target = _ids(frame, tgt_col, source, problems)
    notes: list[str] = []
    weight_column = _weight_column(frame, spelling, weight, source, problems)
    if weight_column is None and weight is not None:
        return None
    values = _weights(frame, weight_column, source, problems) if weight_column else None
    if weight_column is None:
        notes.append("no weight column: every tie weighs 1")
    elif weight is None and spelling.format == "viva":
        others = [w for w in spelling.weights if _column(frame, w) and _column(frame, w) != weight_column]
        also = f"; the file also has {', '.join(others)}: --weight picks it" if others else ""
        notes.append(f"weights from {weight_column} (the default for a Viva Insights export){also}")
    else:
        notes.append(f"weights from column {weight_column}")
    fmt, both_ways, says_directed, direction_notes = _direction_column(frame, spelling)
    notes += direction_notes
    if spelling.format == "viva":
        notes += _periods(frame)
    read = _Edges(
        ids_source,
        ids_target,
        values,
        frame.index.to_numpy(dtype=np.int64),
        both_ways,
        fmt,
        weight_column,
        (src_col, tgt_col),
        notes,
        says_directed=says_directed,
    )
    if spelling.format == "viva":
        read.attributes, read.attribute_lines, conflicts = _viva_attributes(frame, src_col, tgt_col)
        read.notes += conflicts
    return read


def _weight_column(
    frame: pd.DataFrame, spelling: _Spelling, weight: str | None, source: str, problems: list[Problem]
) -> str | None:
    """The column the weights come from: the one asked for, else the spelling's first present, else None."""
    if weight is not None:
        column = _column(frame, weight)
        if column is None:
            message = f"no weight column {weight!r} (from --weight): expected one of the file's columns"
            problems.append(Problem(source, 1, weight, message + _hint(weight, list(frame.columns))))
        return column
    for name in spelling.weights:
        if column := _column(frame, name):
            return column
    return None


def _direction_column(frame: pd.DataFrame, spelling: _Spelling) -> tuple[str, np.ndarray | None, bool, list[str]]:
    """What a Gephi ``Type`` or Kumu ``Direction`` column says about direction.

    Returns:
        The format (Gephi told from a plain edge list), the ties the file marks undirected (None: no such
        column), whether it says some ties are directed, and a note saying what it says.
    """
    name = {"csv": "Type", "kumu": "Direction"}.get(spelling.format)
    column = _column(frame, name) if name else None
    values = frame[column].str.strip().str.lower().to_numpy(dtype=object) if column else None
    given = set(values.tolist()) - {""} if values is not None else set()
    known = bool(given) and given <= _DIRECTIONS.keys()
    fmt = spelling.format
    if spelling.format == "csv":
        gephi_header = _column(frame, "source") == "Source" and _column(frame, "target") == "Target"
        fmt = "gephi" if known or gephi_header else "csv"
    if not known:
        if spelling.format == "kumu":  # Kumu's connections are directed unless it is told otherwise
            return fmt, None, True, ["the file has no Direction column: Kumu reads such connections as directed"]
        return fmt, None, False, []
    assert values is not None and column is not None
    # an empty cell: Gephi's and Kumu's default (Gephi: the graph's, here undirected; Kumu: directed)
    both_ways = np.array([_DIRECTIONS.get(v, spelling.format == "csv") for v in values], dtype=bool)
    directed_rows = int((~both_ways).sum())
    if directed_rows == len(both_ways):
        said = f"the file's {column} column says every tie is directed"
    elif directed_rows:
        said = f"the file's {column} column says {directed_rows} of {plural(len(both_ways), 'tie')} are directed"
    else:
        said = f"the file's {column} column says every tie is undirected"
    return fmt, both_ways, directed_rows > 0, [said]


def _periods(frame: pd.DataFrame) -> list[str]:
    """A note when a Viva export holds several periods, whose ties are summed."""
    column = _column(frame, "MetricDate")
    if column is None:
        return []
    periods = frame[column].str.strip().replace("", np.nan).dropna().unique()
    if len(periods) <= 1:
        return []
    return [
        f"the file holds {len(periods)} periods ({column}): each pair's ties of every period are merged, weights "
        "summed; keep one period's rows to measure it alone"
    ]


def _viva_attributes(frame: pd.DataFrame, src_col: str, tgt_col: str) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Node attributes from a Viva export's ``PrimaryCollaborator_<attr>`` / ``SecondaryCollaborator_<attr>``."""
    primary, secondary = (p.lower() for p in _VIVA_PREFIXES)
    names: dict[str, list[str]] = {}  # attribute -> [primary column, secondary column] (either may be absent)
    for column in frame.columns:
        lower = column.lower()
        if column in (src_col, tgt_col):
            continue
        for k, prefix in enumerate((primary, secondary)):
            if lower.startswith(prefix) and len(lower) > len(prefix):
                attribute = column[len(prefix) :]
                key = next((a for a in names if a.lower() == attribute.lower()), attribute)
                names.setdefault(key, ["", ""])[k] = column
    halves = []
    for k, id_column in enumerate((src_col, tgt_col)):
        half = pd.DataFrame({"id": frame[id_column].str.strip().to_numpy(), "line": frame.index.to_numpy()})
        for attribute, columns in names.items():
            half[attribute] = frame[columns[k]].str.strip().to_numpy() if columns[k] else ""
        halves.append(half)
    long = pd.concat(halves, ignore_index=True)
    long = long[long["id"] != ""].sort_values("line", kind="stable")
    notes = []
    for attribute in names:
        given = long[long[attribute] != ""]
        changed = int((given.groupby("id")[attribute].nunique() > 1).sum())
        if changed:
            who = "1 person has" if changed == 1 else f"{changed} people have"
            notes.append(f"{who} more than one {attribute} in the file: the last row's value is kept")
    # the last non-empty value of each attribute per person
    kept = pd.DataFrame(index=pd.Index(pd.unique(long["id"]), name="id"))
    for attribute in names:
        given = long[long[attribute] != ""]
        kept[attribute] = given.groupby("id")[attribute].last().reindex(kept.index).fillna("")
    lines = long.groupby("id")["line"].last().reindex(kept.index)
    return kept, lines, notes


def _csv_nodes(path: Path, problems: list[Problem]) -> _Nodes | None:
    """A node file: ids and attributes; problems for a missing id column, empty or duplicate ids."""
    source = str(path)
    frame = _read_csv(path, problems)
    if frame is None:
        return None
    id_column = next((c for name in _ID_COLUMNS if (c := _column(frame, name))), None)
    if id_column is None:
        wanted = ", ".join(_ID_COLUMNS)
        message = f"missing id column: a node file needs one of {wanted} plus a column per attribute"
        problems.append(Problem(source, 1, "id", message + _hint("id", list(frame.columns))))
        return None
    if frame.empty:
        problems.append(Problem(source, None, "", "no nodes: the file has a header but no rows"))
        return None
    ids = _ids(frame, id_column, source, problems)
    lines = frame.index.to_numpy(dtype=np.int64)
    series = pd.Series(ids)
    repeated = np.flatnonzero(series.duplicated().to_numpy() & (series != "").to_numpy())
    first = dict(zip(series[::-1], lines[::-1], strict=True))  # each id's first line
    for i in repeated[:SHOWN]:
        message = f"duplicate id {ids[i]!r}: already at line {first[ids[i]]}; each node once"
        problems.append(Problem(source, int(lines[i]), id_column, message))
    if len(repeated) > SHOWN:
        i = repeated[SHOWN]
        message = f"{plural(len(repeated) - SHOWN, 'more duplicate id')} from here on ({len(repeated)} in all)"
        problems.append(Problem(source, int(lines[i]), id_column, message))
    attributes = frame.drop(columns=[id_column]).apply(lambda s: s.str.strip())
    attributes.index = pd.Index(ids, name="id")
    return _Nodes(list(ids), attributes, lines, id_column)


def _absent_ids(read: _Edges, table: _Nodes, edges_path: Path, nodes_path: Path | None) -> list[Problem]:
    """A problem (edge file line, column) for each tie naming an id the node file lacks."""
    # codes in order of first appearance: the node file's ids get 0..k-1, any other id k or more
    codes, _ = pd.factorize(np.concatenate([np.asarray(table.ids, dtype=object), read.source, read.target]))
    k = len(set(table.ids))
    m = len(read.source)
    found = []
    for ids, at, column in zip((read.source, read.target), (0, m), read.id_columns, strict=True):
        part = codes[len(table.ids) + at : len(table.ids) + at + m]
        absent = np.flatnonzero((part >= k) & (ids != ""))
        found += [(int(read.lines[i]), column, ids[i]) for i in absent]  # type: ignore[index]
    if not found:
        return []
    found.sort()
    candidates = table.ids if len(table.ids) <= _NEAREST_IDS else []
    problems = []
    for line, column, name in found[:SHOWN]:
        hint = nearest(name, candidates) if candidates else ""
        message = f"id {name!r} is not in the node file {nodes_path}: every id of a tie needs a row there"
        problems.append(Problem(str(edges_path), line, column, message + (hint if "did you mean" in hint else "")))
    if len(found) > SHOWN:
        line, column, _ = found[SHOWN]
        distinct = len({name for *_, name in found})
        message = (
            f"{plural(len(found) - SHOWN, 'more tie')} from here on {'names' if len(found) == SHOWN + 1 else 'name'} "
            "ids absent from the node file "
            f"({plural(distinct, 'distinct id')} in all)"
        )
        problems.append(Problem(str(edges_path), line, column, message))
    return problems


def _graph_edges(path: Path, fmt: str, weight: str | None, problems: list[Problem]) -> _Edges | None:
    """The ties and node attributes of a GraphML or GEXF file, read with networkx."""
    import networkx as nx

    source = str(path)
    reader = nx.read_graphml if fmt == "graphml" else nx.read_gexf
    name = "GraphML" if fmt == "graphml" else "GEXF"
    try:
        graph = reader(path, node_type=str)
    except ElementTree.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        problems.append(Problem(source, line, "", f"not well-formed XML, expected a {name} file: {exc}"))
        return None
    except (nx.NetworkXError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        problems.append(Problem(source, None, "", f"not a readable {name} file: {exc or type(exc).__name__}"))
        return None
    except OSError as exc:
        problems.append(Problem(source, None, "", f"cannot read file: {exc.strerror or exc}"))
        return None
    if graph.number_of_nodes() == 0:
        problems.append(Problem(source, None, "", f"no nodes: expected a {name} graph with nodes and edges"))
        return None
    if graph.number_of_edges() == 0:
        problems.append(Problem(source, None, "", f"no ties: the {name} graph has nodes but no edges"))
        return None
    nodes = [str(v) for v in graph.nodes]
    edges = list(graph.edges(data=True))
    keys = sorted({str(k) for *_, data in edges for k in data})
    weight_key: str | None = None
    if weight is not None:
        weight_key = weight if weight in keys else next((k for k in keys if k.lower() == weight.lower()), None)
        if weight_key is None:
            where = f"one of the file's edge attributes ({', '.join(keys)})" if keys else "an edge attribute"
            hint = nearest(weight, keys) if keys else ""
            message = f"no edge attribute {weight!r} (from --weight): expected {where}"
            problems.append(Problem(source, None, weight, message + (hint if "did you mean" in hint else "")))
            return None
    elif "weight" in keys:
        weight_key = "weight"
    values = None
    if weight_key is not None:
        values = np.empty(len(edges))
        bad: dict[str, list[str]] = {}
        for k, (u, v, data) in enumerate(edges):
            raw = data.get(weight_key)
            try:
                values[k] = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                values[k] = math.nan
            if not (math.isfinite(values[k]) and values[k] >= 0):
                what = "no weight" if raw is None else "a weight that is not a finite number ≥ 0"
                bad.setdefault(what, []).append(f"{u} - {v}" if raw is None else f"{u} - {v}: {raw!r}")
        for what, pairs in bad.items():
            shown = "; ".join(pairs[:SHOWN]) + (f"; and {len(pairs) - SHOWN} more" if len(pairs) > SHOWN else "")
            message = f"{plural(len(pairs), 'edge')} with {what} ({shown}): every edge needs a number ≥ 0"
            problems.append(Problem(source, None, weight_key, message))
    notes = [f"weights from edge attribute {weight_key}" if weight_key else "no edge weights: every tie weighs 1"]
    declared_directed = graph.is_directed()
    if declared_directed:
        notes.append(f"the file says its ties are directed ({name} edge default)")
    attributes = pd.DataFrame(
        [
            {str(k): _text(v) for k, v in data.items() if isinstance(v, str | int | float | bool)}
            for _, data in graph.nodes(data=True)
        ],
        index=pd.Index(nodes, name="id"),
    ).fillna("")
    return _Edges(
        np.array([str(u) for u, _, _ in edges], dtype=object),
        np.array([str(v) for _, v, _ in edges], dtype=object),
        values,
        None,
        None if declared_directed else np.ones(len(edges), dtype=bool),
        fmt,
        weight_key,
        ("source", "target"),
        notes,
        nodes=nodes,
        attributes=attributes.astype(str),
        says_directed=declared_directed,
    )


def _text(value: object) -> str:
    """An attribute value as text, as the file's type prints it (``2.0`` for a float 2)."""
    return str(value).strip()


# --- cleaning ------------------------------------------------------------------------------------------------------


def _assemble(
    read: _Edges, table: _Nodes | None, edges_path: Path, nodes_path: Path | None, directed: bool
) -> ObservedNetwork:
    """The network: nodes ordered, ties cleaned (self-loops, zero weights, duplicates), notes written."""
    first = np.asarray(table.ids if table is not None else [], dtype=object)
    declared = np.asarray(read.nodes if read.nodes is not None else [], dtype=object)
    ends = np.column_stack([read.source, read.target]).ravel()  # row by row: ids in the order first seen
    codes, uniques = pd.factorize(np.concatenate([first, declared, ends]))
    ids = [str(i) for i in uniques]
    codes = codes[len(first) + len(declared) :].astype(np.int64)
    source, target = codes[0::2], codes[1::2]
    weighted = read.weight is not None
    weight = np.asarray(read.weight, dtype=float) if weighted else np.ones(len(source))
    notes = list(read.notes)
    if directed and read.both_ways is not None and read.both_ways.any():
        twice = read.both_ways
        notes.append(f"read as directed: {plural(int(twice.sum()), 'tie')} the file marks undirected count both ways")
        source, target = np.r_[source, target[twice]], np.r_[target, source[twice]]
        weight = np.r_[weight, weight[twice]]
    loops = source == target
    if loops.any():
        notes.append(f"{plural(int(loops.sum()), 'self-loop')} dropped")
    zero = ~loops & (weight == 0)
    if zero.any():
        notes.append(f"{plural(int(zero.sum()), 'tie')} of weight 0 dropped")
    keep = ~loops & ~zero
    source, target, weight = source[keep], target[keep], weight[keep]
    n = len(ids)
    if directed:
        first_end, second_end = source, target
    else:
        first_end, second_end = np.minimum(source, target), np.maximum(source, target)
    key = first_end * n + second_end
    inverse, unique = pd.factorize(key, sort=True)  # as np.unique(key, return_inverse=True), faster
    if directed:
        direction = "read as directed: the first id's tie to the second; a tie listed both ways is two ties"
    else:  # pairs listed both ways: some of their rows run low → high, some high → low
        forward = np.bincount(inverse, weights=source < target, minlength=len(unique))
        backward = np.bincount(inverse, weights=source > target, minlength=len(unique))
        direction = _undirected_note(read, int(((forward > 0) & (backward > 0)).sum()))
    merged = len(key) - len(unique)
    weight = np.bincount(inverse, weights=weight, minlength=len(unique)) if weighted else np.ones(len(unique))
    source, target = unique // n, unique % n
    if merged:
        how = "weights summed" if weighted else "no weights: each still weighs 1"
        notes.append(f"{plural(merged, 'duplicate tie')} merged ({how})")
    notes.append(direction)
    isolated = n - np.count_nonzero(np.bincount(np.r_[source, target], minlength=n))
    if isolated:
        notes.append(f"{plural(isolated, 'node')} without ties kept (isolated)")
    attributes, node_lines = _attributes(ids, read, table)
    graph = tie_network.graph_from_edges(source, target, weight, n, directed=directed)
    return ObservedNetwork(
        ids=[str(i) for i in ids],
        attributes=attributes,
        source=source.astype(np.int64),
        target=target.astype(np.int64),
        weight=weight.astype(np.float64),
        directed=directed,
        graph=graph,
        notes=notes,
        edges_path=edges_path,
        nodes_path=nodes_path,
        weight_column=read.weight_column,
        format=read.format,
        node_lines=node_lines,
    )


def _undirected_note(read: _Edges, both: int) -> str:
    """How direction was treated when read undirected, with the number of pairs the file lists both ways."""
    listed = f" ({plural(both, 'pair')} listed both ways)" if both else ""
    said = "; the file says ties are directed: --directed reads them so" if read.says_directed else ""
    return f"read as undirected: a tie listed both ways is one tie{listed}{said}"


def _attributes(ids: list, read: _Edges, table: _Nodes | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Every node's attributes (the node file's over the edge file's) and the line they came from."""
    index = pd.Index([str(i) for i in ids], name="id")
    attributes = pd.DataFrame(index=index)
    if table is not None:
        attributes = attributes.join(table.attributes)
    if read.attributes is not None:
        for column in read.attributes.columns:
            values = read.attributes[column].reindex(index)
            if column in attributes.columns:
                attributes[column] = attributes[column].where(attributes[column].notna(), values)
            else:
                attributes[column] = values
    attributes = attributes.fillna("").astype(str)
    if table is not None:
        lines = pd.Series(table.lines, index=pd.Index(table.ids)).reindex(index)
    elif read.attribute_lines is not None:
        lines = read.attribute_lines.reindex(index)
    else:
        lines = pd.Series(0, index=index)
    return attributes, lines.fillna(0).to_numpy(dtype=np.int64)


def _unknown_attribute(network: ObservedNetwork, attribute: str, columns: list[str]) -> str:
    """The message for a group attribute the network does not have."""
    if not columns:
        return (
            f"no node attribute {attribute!r}: the network has no node attributes; give a node file "
            "(--nodes, an id column plus a column per attribute)"
        )
    where = f" of {network.nodes_path}" if network.nodes_path else f" of {network.edges_path}"
    return f"no node attribute {attribute!r}: expected one of the attribute columns{where}" + nearest(
        attribute, columns
    )
