"""YAML read safely, with the line of every key path, so each problem can name its line.

:func:`parse_yaml` bounds the input before anything is built (size, nesting, number of values,
tags), then builds plain data with a :class:`Located` that maps each key path to its line, or
to the command-line flag that set it.
"""

from __future__ import annotations

from typing import Any

import yaml

from silosim.scenario.errors import Problem, ScenarioError

# Input limits: a file is read whole and built in memory, so its size, nesting and number of values are bounded
MAX_YAML_BYTES = 1_000_000
MAX_YAML_DEPTH = 32
MAX_YAML_VALUES = 100_000


class Located:
    """YAML data plus the line of every key path."""

    def __init__(self, source: str):
        self.source = source
        self.lines: dict[tuple, int] = {}
        self.problems: list[Problem] = []
        self.overridden: dict[tuple, str] = {}  # key path → the flag that set it (--set, --seed...): no line
        self._values = 0

    def build(self, node: yaml.Node, path: tuple = ()) -> Any:
        """Construct the data of a YAML node, recording the line of every key path.

        Aliases are expanded here, so the number of values built and their depth are bounded
        (an alias bomb or a self-referencing anchor stops with a problem instead of filling memory).
        """
        self._values += 1
        line = node.start_mark.line + 1
        if self._values > MAX_YAML_VALUES or len(path) > MAX_YAML_DEPTH:
            limit = f"more than {MAX_YAML_VALUES:,} values" if self._values > MAX_YAML_VALUES else "nested too deeply"
            raise ScenarioError(
                [Problem(self.source, line, render_path(path), f"{limit} (anchors and aliases expanding?): refused")]
            )
        self.lines[path] = line
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(
                        Problem(
                            self.source,
                            key_line,
                            render_path(path, out),
                            "merge keys (<<) are not supported: write the keys out",
                        )
                    )
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(
                        Problem(
                            self.source,
                            key_line,
                            render_path(path, out),
                            "a key must be a plain name, not a list or mapping",
                        )
                    )
                    continue
                key = self._scalar(key_node, path)
                if key in out:
                    self.problems.append(
                        Problem(self.source, key_line, render_path((*path, key), out), "duplicate key")
                    )
                self.lines[(*path, key)] = key_line
                out[key] = self.build(value_node, (*path, key))
                self.lines[(*path, key)] = key_line
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: tuple) -> Any:
        try:
            return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            self.problems.append(
                Problem(self.source, node.start_mark.line + 1, render_path(path), f"bad value: {reason}")
            )
            return None

    def where(self, path: tuple) -> tuple[str, int | None]:
        """(source, line) of a key path; keys set on the command line come from their flag (``--set``...)."""
        path = tuple(path)
        for n in range(len(path), -1, -1):
            if path[:n] in self.overridden:
                return self.overridden[path[:n]], None
        return self.source, self.line(path)

    def line(self, path: tuple) -> int | None:
        """Line of a key path, or of its nearest ancestor in the file."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)


def render_path(path: tuple, data: Any = None) -> str:
    """Render a key path, naming list items by their name: `departments[hr].reach`."""
    out = ""
    node = data
    for part in path:
        if isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and 0 <= part < len(node) and isinstance(node[part], dict):
                label = str(node[part].get("name", node[part].get("group", part)))
            out += f"[{label}]"
        else:
            out += ("." if out else "") + str(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return out


# explicit tags a scenario may carry (`!!str 50`); anything else (`!!python/object`, `!custom`) is refused
_PLAIN_TAGS = {None, "!"} | {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


def parse_yaml(text: str, source: str) -> tuple[Any, Located]:
    """Parse YAML text keeping line numbers; syntax errors and unsafe input become a ScenarioError.

    Bounded before anything is built: the text's size, the nesting depth, the number of values
    (aliases included) and the tags.
    """
    located = Located(source)
    if len(text) > MAX_YAML_BYTES:
        raise ScenarioError([Problem(source, None, "", f"file is larger than {MAX_YAML_BYTES:,} characters: refused")])
    try:
        problems = _scan(text, source)
        if problems:
            raise ScenarioError(problems)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError([Problem(source, line, "", f"YAML syntax error: {exc.problem or exc}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other control characters)
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{code:04X} is not allowed in YAML: remove it"
        raise ScenarioError([Problem(source, line, "", message)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(source, None, "", f"YAML error: {exc}")]) from None
    data = located.build(node) if node is not None else None
    return data, located


def _scan(text: str, source: str) -> list[Problem]:
    """Read the YAML event stream (no recursion, nothing built) and refuse deep nesting and foreign tags."""
    problems, depth = [], 0
    for count, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
        line = event.start_mark.line + 1
        if count > 2 * MAX_YAML_VALUES:
            return [Problem(source, line, "", f"more than {MAX_YAML_VALUES:,} values: refused")]
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                return [Problem(source, line, "", f"nested deeper than {MAX_YAML_DEPTH} levels: refused")]
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        tag = getattr(event, "tag", None)
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)) and tag not in _PLAIN_TAGS:
            problems.append(Problem(source, line, "", f"unsupported YAML tag {tag!r}: write a plain value"))
    return problems
