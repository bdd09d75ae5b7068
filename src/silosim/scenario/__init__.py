"""Scenario files: the language in which an organisation, its communities and dynamics are written.

Bad input never reaches the model: :func:`load` collects every problem in a file and raises one
:class:`ScenarioError` whose lines name the file, line, key path, what was expected and the
nearest valid name. The package reads in layers:

- :mod:`~silosim.scenario.errors`: :class:`Problem`, :class:`ScenarioError`, the message format;
- :mod:`~silosim.scenario.located`: YAML parsed safely, with the line of every key path;
- :mod:`~silosim.scenario.schema`: the pydantic models, their defaults and limits;
- :mod:`~silosim.scenario.overrides`: dotted keys (``--set``, events) on raw data;
- :mod:`~silosim.scenario.checks`: every problem of raw data, and :func:`validate`;
- :mod:`~silosim.scenario.loading`: :func:`load`, :func:`from_dict`, :func:`changed`, :func:`scaled`;
- :mod:`~silosim.scenario.reference`: the README's format table, generated from the schema.
"""

from silosim.scenario.checks import schema_problems, validate
from silosim.scenario.errors import Problem, ScenarioError, nearest
from silosim.scenario.loading import (
    MAX_SCALE,
    changed,
    default_name,
    from_dict,
    load,
    scaled,
    to_dict,
    validate_with_overrides,
)
from silosim.scenario.located import MAX_YAML_BYTES, Located, parse_yaml
from silosim.scenario.overrides import OverrideError, apply_override
from silosim.scenario.schema import (
    MAX_LIVE_ITEMS,
    Dynamics,
    Name,
    Ownership,
    RunName,
    Scenario,
    StrictModel,
    inner_model,
)

__all__ = [
    "MAX_LIVE_ITEMS",
    "MAX_SCALE",
    "MAX_YAML_BYTES",
    "Dynamics",
    "Located",
    "Name",
    "OverrideError",
    "Ownership",
    "Problem",
    "RunName",
    "Scenario",
    "ScenarioError",
    "StrictModel",
    "apply_override",
    "changed",
    "default_name",
    "from_dict",
    "inner_model",
    "load",
    "nearest",
    "parse_yaml",
    "scaled",
    "schema_problems",
    "to_dict",
    "validate",
    "validate_with_overrides",
]
