"""The page's model and its controls: one table of controls, each bound to a scenario key.

:data:`CONTROLS` lists the sidebar's controls once; from it come the
controls' settings (:func:`model_params`), the values they show for a
scenario (:func:`control_values`: after each Reset, those of the scenario the
model runs), the keyword parameters of :class:`VizModel` that Reset passes,
and the scenario changes they make (:func:`control_changes`, applied by
:func:`silosim.scenario.changed`, so they are validated as ``silosim run
--set`` is). :func:`page_scenario` reads the scenario file the server serves.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import silosim
from silosim import rules
from silosim.metrics import MEASURES
from silosim.model import SiloModel
from silosim.scenario import OverrideError, Ownership, Problem, Scenario, ScenarioError, changed, load
from silosim.scenario.overrides import parse_value
from silosim.viz.server import ENV_SCALE, ENV_SCENARIO, ENV_SEED, STOPPING

NONE = "(none)"  # the select entry for "no department"
CROSS_POSTING = typing.get_args(Ownership.model_fields["cross_posting"].annotation)
CONTROLS_SOURCE = "the page's controls"  # where problems with the controls' values come from
# what the page serves when SILOSIM_VIZ_SCENARIO is not set: the repository's default (an editable install)
DEFAULT_SCENARIO = Path(silosim.__file__).resolve().parents[2] / "scenarios" / "default.yaml"


@dataclass(frozen=True)
class Control:
    """One control of the page's sidebar, bound to one scenario key.

    Attributes:
        key: the dotted scenario key it sets; its last part names the control (a keyword of :class:`VizModel`).
        label: what the page shows.
        kind: ``select`` (one of ``choices``), ``department`` (one of the scenario's departments, or
            :data:`NONE`), ``slider`` (from 0 to ``high`` by ``step``) or ``text`` (typed, read as YAML).
        choices: a select's values.
        high: a slider's maximum (raised to the scenario's value when that is higher).
        step: a slider's step.
    """

    key: str
    label: str
    kind: Literal["select", "department", "slider", "text"]
    choices: tuple[str, ...] = ()
    high: float = 1.0
    step: float = 0.01

    @property
    def name(self) -> str:
        """The control's name: the last part of its key (``tie_decay`` for ``dynamics.tie_decay``)."""
        return self.key.rsplit(".", 1)[-1]

    def current(self, scenario: Scenario) -> Any:
        """The value of the control's key in a scenario."""
        return functools.reduce(getattr, self.key.split("."), scenario)

    def param(self, scenario: Scenario) -> dict:
        """The control's settings at a scenario: ``type``, ``label``, ``value``, its range or values."""
        value = self.current(scenario)
        if self.kind == "slider":
            shape = {"min": 0.0, "max": max(self.high, value), "step": self.step}
            return {"type": "SliderFloat", "label": self.label, "value": value} | shape
        if self.kind == "text":
            return {"type": "InputText", "label": self.label, "value": str(value)}
        if self.kind == "department":
            values = [NONE, *(d.name for d in scenario.organization.departments)]
            return {"type": "Select", "label": self.label, "value": value or NONE, "values": values}
        return {"type": "Select", "label": self.label, "value": value, "values": list(self.choices)}

    def change(self, value: Any) -> Any:
        """The key's new value for the control's value on the page.

        Raises:
            ScenarioError: typed text that is not YAML (the message names the key and the text).
        """
        if self.kind == "department":
            return None if value in (None, "", NONE) else value
        if self.kind == "slider":
            return round(float(value), 6)
        if self.kind == "text":
            try:
                return parse_value(str(value).strip())
            except OverrideError as exc:
                raise ScenarioError([Problem(CONTROLS_SOURCE, None, self.key, str(exc))]) from None
        return value


CONTROLS = (
    Control("ownership.rule", "ownership rule", "select", choices=tuple(rules.RULES)),
    Control("ownership.glue", "glue department (rule glue)", "department"),
    Control("ownership.owner", "owner (rule single_owner)", "department"),
    Control("ownership.cross_posting", "cross-posting", "select", choices=CROSS_POSTING),
    Control("dynamics.exploration", "exploration", "slider", high=1.0, step=0.01),
    Control("dynamics.tie_decay", "tie decay", "slider", high=0.2, step=0.001),
    Control("dynamics.reinforcement", "reinforcement", "slider", high=1.0, step=0.01),
    Control("dynamics.drift", "drift", "slider", high=0.01, step=0.0001),
    Control("seed", "seed", "text"),
)


def control(name: str) -> Control:
    """The control called ``name`` (e.g. ``rule``).

    Raises:
        KeyError: no such control.
    """
    found = {c.name: c for c in CONTROLS}
    return found[name]


def control_changes(values: Mapping[str, Any]) -> dict[str, Any]:
    """The controls' values (by name, as the page holds them) as scenario changes (dotted key → value).

    Raises:
        ScenarioError: the typed seed is not YAML.
    """
    return {c.key: c.change(values[c.name]) for c in CONTROLS}


class VizModel(SiloModel):
    """A SiloModel built from the page's controls (Reset calls it with their current values).

    The controls change the scenario file's values (:func:`control_changes`)
    and go through the same validation as ``silosim run``. Invalid settings
    never raise: the model is built from ``fallback`` (the scenario the
    server started with) and ``reset_error`` holds the validation message.
    ``first_measurement`` holds what can be measured before the first step
    (:func:`first_measurement`); the model itself first measures at step
    ``metrics.every``, so its numbers are those of ``silosim run``.
    """

    def __init__(self, *, source: str, fallback: Scenario, scale: float = 1.0, **controls: Any):
        """Validate the controls against the scenario file, then build the model.

        Args:
            source: the scenario file (read again at each Reset).
            fallback: scenario to run when the controls are invalid.
            scale: ``--scale``: the organisation this many times larger (:func:`silosim.scenario.scaled`).
            **controls: one value per control of :data:`CONTROLS`, by name (the seed as typed).

        Raises:
            TypeError: the controls given are not exactly those of :data:`CONTROLS`.
        """
        if controls.keys() != {c.name for c in CONTROLS}:
            raise TypeError(f"VizModel takes the controls {[c.name for c in CONTROLS]}, got {sorted(controls)}")
        try:
            scenario = changed(load(source, scale=scale), control_changes(controls), source=CONTROLS_SOURCE)
            error = None
        except ScenarioError as exc:  # the CLI's message, the control's key in place of the file
            scenario = fallback
            error = "\n".join(f"{p.path}: {p.message}" if p.source == CONTROLS_SOURCE else str(p) for p in exc.problems)
        super().__init__(scenario)
        self.source = source
        self.reset_error: str | None = error
        self.first_measurement = first_measurement(self)

    def step(self) -> None:
        """One step; none once the server is stopping (Play's loop then ends, and the process can exit)."""
        if STOPPING.is_set():
            self.running = False
            return
        super().step()


def first_measurement(model: SiloModel) -> dict:
    """The measurement row at the model's current step (before its first step: step 0), the model left untouched.

    Only the descriptions of ties, practices and fit to needs can be measured
    before any item has ended (:meth:`SiloModel._tie_snapshot`, here on a
    shallow copy, so the model's own state and later numbers do not change);
    the measures of flow are NaN and the verdict ``n/a``. Its keys are those of
    a row of :meth:`SiloModel.timeseries`.
    """
    snapshot = copy.copy(model)._tie_snapshot()  # sets tie_block and constraint on the copy only
    row = {"step": model.steps} | {name: snapshot.get(name, math.nan) for name in MEASURES}
    return row | {"verdict": "n/a"}


def control_values(scenario: Scenario) -> dict[str, Any]:
    """The value each control shows for a scenario, by control name (the seed as text)."""
    return {c.name: c.param(scenario)["value"] for c in CONTROLS}


def model_params(source: str, scenario: Scenario, seed: int | None = None, scale: float = 1.0) -> dict:
    """The page's parameters for :class:`VizModel`: the fixed ones, and each control's settings at the scenario.

    Args:
        source: the scenario file.
        scenario: the scenario the page starts with (also the fallback for invalid controls).
        seed: the seed to show (default: the scenario's).
        scale: the ``--scale`` the server was started with (a fixed parameter: Reset passes it back).
    """
    shown = scenario if seed is None else scenario.model_copy(update={"seed": seed})
    return {"source": source, "fallback": scenario} | {c.name: c.param(shown) for c in CONTROLS} | {"scale": scale}


def initial_kwargs(params: dict) -> dict:
    """Keyword arguments of :class:`VizModel` for the controls' default values."""
    return {key: value["value"] if isinstance(value, dict) else value for key, value in params.items()}


def page_scenario() -> tuple[str, Scenario, int | None, float]:
    """The scenario file the page serves (``SILOSIM_VIZ_SCENARIO``), validated, and the seed and scale asked for.

    Without ``SILOSIM_VIZ_SCENARIO`` (set by :func:`silosim.viz.server.serve`), the repository's
    ``scenarios/default.yaml``.

    Raises:
        FileNotFoundError: the variable is not set and the repository's default scenario is not there.
        ScenarioError: the scenario is invalid.
    """
    source = os.environ.get(ENV_SCENARIO)
    if not source:
        if not DEFAULT_SCENARIO.is_file():
            raise FileNotFoundError(
                f"{ENV_SCENARIO} is not set and there is no default scenario at {DEFAULT_SCENARIO}: "
                f"set {ENV_SCENARIO} to a scenario YAML file (silosim viz SCENARIO.yaml does)"
            )
        source = str(DEFAULT_SCENARIO)
    seed = int(os.environ[ENV_SEED]) if os.environ.get(ENV_SEED) else None
    scale = float(os.environ.get(ENV_SCALE) or 1)
    return source, load(source, [] if seed is None else [f"seed={seed}"], scale), seed, scale
