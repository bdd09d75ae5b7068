"""One run's conclusion in words, and the warnings that save a wrong conclusion.

:func:`run_conclusion` turns the summary of one run (the dict
:func:`silosim.runner.summarise` writes as ``summary.json``) into a paragraph
for someone who has to act on it: what the verdict means for this
organisation, naming its communities, their owners and the groups that
exchange items both ways; the key figures; then the caveats (not converged, a
verdict that turns on a threshold, a measure undefined and why, items cut
short). Measured mid-run (``final`` false) it says "so far".

No displayed figure may contradict the verdict without the sentence that
explains it: :func:`structure_note` is that sentence, for the summary table
and the conclusion alike. The verdict reads how far items travel
(``cross_reach``) as well as which communities are joined (``silo_count``,
``largest_merged_share``), so one joined group can still be fragmented.

:func:`scenario_warnings` reads a validated scenario, before any run, for what
would make a conclusion wrong: a measure that can never be defined, a run too
short for its window, an event inside the window.

Pure: the scenario's types and :mod:`silosim.metrics`' constants only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from silosim.analysis.text import plural
from silosim.metrics import VERDICT_DEFAULTS

if TYPE_CHECKING:
    from silosim.scenario import Scenario

CLOSE = 0.1  # a figure within this share of its verdict threshold (at least 0.01) is close to it
# The threshold each figure is judged against, in the order of the verdict's checks.
THRESHOLD_OF = (
    ("largest_merged_share", "merged_share"),
    ("cross_reach", "merged_reach"),
    ("cross_reach", "siloed_reach"),
)


# --------------------------------------------------------------------------- small readers


def insight_target(scenario: Scenario) -> str | None:
    """The department whose learning of insights is timed: ``metrics.insight_target``, else ``rnd`` if present."""
    departments = [d.name for d in scenario.organization.departments]
    target = scenario.metrics.insight_target or ("rnd" if "rnd" in departments else None)
    return target if target in departments else None


def _value(measures: dict, name: str) -> float | None:
    """A measure as a float, None when missing or undefined (NaN, JSON null)."""
    value = measures.get(name)
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _names(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _owned(names: list[str], owners: dict[str, str]) -> str:
    """Communities with their owners: ``esn (owned by hr)``, ``a and b (owned by x and y)``."""
    who = list(dict.fromkeys(owners[n] for n in names if n in owners))
    return _names(names) + (f" (owned by {_names(who)})" if who else "")


def _groups(summary: dict) -> tuple[list[list[str]], list[float]]:
    """The silos (groups of joined communities) largest first, and each one's share of members."""
    silos = [list(g) for g in summary.get("silos", [])]
    shares = list(summary.get("silo_shares") or [])
    if len(shares) != len(silos):
        shares = [math.nan] * len(silos)
    order = sorted(range(len(silos)), key=lambda k: (-(shares[k] if shares[k] == shares[k] else len(silos[k])), k))
    return [silos[k] for k in order], [shares[k] for k in order]


def _thresholds(summary: dict) -> dict[str, float]:
    return {**VERDICT_DEFAULTS, **(summary.get("thresholds") or {})}


def _step(summary: dict) -> int:
    """The step of the reading: the latest measurement's, else the steps run."""
    step = summary.get("measured_step")
    return int(summary.get("steps") or 0) if step is None else int(step)


def _at(summary: dict) -> str:
    """``after 300 steps`` for a finished run, ``so far, at step 40 of 300`` mid-run."""
    step = _step(summary)
    planned = summary.get("steps_planned", summary.get("steps"))
    if summary.get("final", True):
        return f"after {step} steps"
    return f"so far, at step {step} of {planned}"


# --------------------------------------------------------------------------- the explaining sentence


def structure_note(summary: dict) -> str | None:
    """The sentence reconciling the structure figures with the verdict when they seem to disagree, else None.

    The verdict asks two things: are the communities joined (items cross both
    ways, ``silo_count``, ``largest_merged_share``) **and** do items reach
    most of the other communities' members (``cross_reach``)? When one of the
    two looks merged and the verdict is not (or the reverse), this says why.

    Args:
        summary: one run's summary (``verdict``, ``measures``, ``silos``, ``silo_shares``, ``thresholds``).

    Returns:
        One sentence, or None when the figures and the verdict agree at sight.
    """
    verdict, m, t = summary.get("verdict"), summary.get("measures", {}), _thresholds(summary)
    groups, _ = _groups(summary)
    n, k = sum(len(g) for g in groups), len(groups)
    reach, share = _value(m, "cross_reach"), _value(m, "largest_merged_share")
    if n < 2 or k == 0 or reach is None or share is None or verdict not in ("merged", "fragmented", "siloed"):
        return None
    owners = summary.get("owners", {})
    apart = [c for g in groups[1:] for c in g]
    apart_share = 1 - share
    floor = t["silo_floor"]
    if verdict == "merged" and k > 1:
        return (
            f"With silo_count {k} the verdict is still merged: {_owned(apart, owners)} "
            f"{'stays' if len(apart) == 1 else 'stay'} apart but {'holds' if len(apart) == 1 else 'hold'} only "
            f"{apart_share:.0%} of the members, and merged asks the largest joined group for "
            f"{t['merged_share']:.0%} of them, not for all."
        )
    if verdict == "fragmented" and share >= t["merged_share"] and reach < t["merged_reach"]:
        joined = (
            "all communities are joined in one group (silo_count 1, largest_merged_share "
            f"{share:.3f}): each exchanges items both ways with another, directly or through others, reaching at "
            f"least {floor:.0%} of the members on each side"
            if k == 1
            else f"the largest joined group holds {share:.0%} of the members, enough for merged_share "
            f"{t['merged_share']:.0%}"
        )
        return (
            f"Joined is not merged: {joined}; but an item reaches only {reach:.0%} of another community's "
            f"members on average (cross_reach), under the merged_reach of {t['merged_reach']:.0%} that merged "
            "needs, so the communities touch without most of what each says reaching the others: fragmented."
        )
    if verdict == "fragmented" and reach >= t["merged_reach"] and share < t["merged_share"] and k > 1:
        return (
            f"Although cross_reach {reach:.3f} is above merged_reach {t['merged_reach']:.0%}, the verdict is "
            f"fragmented: {_owned(apart, owners)} {'does' if len(apart) == 1 else 'do'} not exchange items both "
            f"ways with the rest (at least {floor:.0%} of the members on each side), so the largest joined group "
            f"holds only {share:.0%} of the members, under merged_share {t['merged_share']:.0%}."
        )
    if verdict == "siloed" and k < n:
        joined = (
            f"all communities are joined in one group (silo_count 1, largest_merged_share {share:.3f})"
            if k == 1
            else f"some communities are joined (silo_count {k} of {n} communities)"
        )
        return (
            f"Joined is not merged: {joined}, yet an item reaches only {reach:.0%} of another community's "
            f"members on average (cross_reach), under siloed_reach {t['siloed_reach']:.0%}: what one community "
            "says, the others practically never hear, so the verdict is siloed."
        )
    return None


# --------------------------------------------------------------------------- the conclusion


def run_conclusion(summary: dict) -> str:
    """One run's conclusion in words: the verdict for this organisation, its key figures, then the caveats.

    Args:
        summary: the run's summary dict (:func:`silosim.runner.summarise`): ``verdict``,
            ``verdict_reason``, ``measures``, ``silos``, ``owners``, ``convergence``,
            ``verdict_variants``, ``final``, …; keys added later are optional.

    Returns:
        One paragraph, then (after an empty line) ``Caveats: …`` when any apply.
    """
    sentences = [_verdict_sentences(summary), _figures(summary), _advice(summary)]
    caveats = _caveats(summary)
    text = " ".join(s for s in sentences if s)
    return text + ("\n\nCaveats: " + " ".join(caveats) if caveats else "")


def _verdict_sentences(summary: dict) -> str:
    verdict, m, t = summary.get("verdict", "n/a"), summary.get("measures", {}), _thresholds(summary)
    owners = summary.get("owners", {})
    name = f"the {summary.get('scenario', '')} organisation".replace("the  ", "the ")
    groups, shares = _groups(summary)
    n, k = sum(len(g) for g in groups), len(groups)
    reach, share = _value(m, "cross_reach"), _value(m, "largest_merged_share")
    at = _at(summary)
    if verdict not in ("merged", "fragmented", "siloed") or reach is None or share is None:
        reason = summary.get("verdict_reason") or "nothing has been measured yet"
        at = at.replace("so far, at", "at")
        return f"No verdict yet for {name} {at}: {reason}."
    head = f"{name.capitalize()} is {verdict} {at}."
    if n < 2:
        return f"{head} It has one community with members: nothing can cross, so it is merged by definition."
    note = structure_note(summary)
    reach_text = f"an item reaches {reach:.0%} of another community's members on average"
    needs_reach, needs_share = f"{t['merged_reach']:.0%}", f"{t['merged_share']:.0%}"
    if verdict == "merged":
        text = (
            f"{head} Its {n} communities work as one system: {reach_text} (merged needs {needs_reach}), and "
            f"the communities exchanging items both ways hold {share:.0%} of the members (merged needs "
            f"{needs_share})."
        )
        return f"{text} {note}" if note else text
    if verdict == "siloed" and k >= n:
        return (
            f"{head} Each of its {n} communities is a silo: no two exchange items both ways (at least "
            f"{t['silo_floor']:.0%} of the members on each side), and {reach_text}."
        )
    if verdict == "siloed":
        return (
            f"{head} {note}"
            if note
            else f"{head} {reach_text.capitalize()}, under siloed_reach {t['siloed_reach']:.0%}."
        )
    if k == 1:  # fragmented, all joined: the note explains it
        return f"{head} {note}" if note else f"{head} {reach_text.capitalize()}."
    listed = "; ".join(
        f"{_owned(g, owners)}{f', {s:.0%} of the members' if s == s else ''}"
        for g, s in zip(groups, shares, strict=True)
    )
    text = f"{head} Its {n} communities form {k} groups that exchange items both ways inside, not with each other: "
    text += f"{listed}."
    if share >= t["merged_share"]:  # joined enough, too little reach: the note says it
        return f"{text} {note}" if note else text
    if reach >= t["merged_reach"]:
        return (
            f"{text} Items do travel: {reach_text}, above the {needs_reach} merged needs (merged_reach); what "
            f"keeps the organisation from merged is that the largest joined group holds only {share:.0%} of the "
            f"members, under the {needs_share} merged needs (merged_share)."
        )
    return (
        f"{text} Not merged on either count: the largest joined group holds {share:.0%} of the members (merged "
        f"needs {needs_share}) and {reach_text} (merged needs {needs_reach})."
    )


def _figures(summary: dict) -> str:
    m = summary.get("measures", {})
    parts = []
    fit, knowledge = _value(m, "fit"), _value(m, "knowledge")
    if fit is not None:
        known = (
            f", where the organisation's best practice would match {knowledge:.0%} (knowledge)"
            if knowledge is not None
            else ""
        )
        parts.append(f"the practice the communities meet matches {fit:.0%} of what their members need (fit){known}")
    insight, target = _value(m, "time_to_insight"), summary.get("insight_target")
    if insight is not None:
        where = f"the {target} department" if target else "the insight target"
        parts.append(f"a stakeholder insight reaches {where} in a median {insight:g} steps")
    relay = _value(m, "relay_load")
    if relay is not None and relay > 0:
        parts.append(f"cross-posting takes {relay:.0%} of the actors' capacity (relay_load)")
    return f"Outcomes: {'; '.join(parts)}." if parts else ""


def _advice(summary: dict) -> str:
    verdict = summary.get("verdict")
    if verdict not in ("fragmented", "siloed"):
        return ""
    groups, _ = _groups(summary)
    apart = [c for g in groups[1:] for c in g] if verdict == "fragmented" and len(groups) > 1 else []
    where = f"Where to act: {_owned(apart, summary.get('owners', {}))}. " if apart else ""
    return (
        f"{where}To see which ownership strategy would join the communities, sweep the strategies with this "
        "scenario as the base (as scenarios/sweeps/strategies.yaml does)."
    )


def _caveats(summary: dict) -> list[str]:
    out = []
    m, final = summary.get("measures", {}), summary.get("final", True)
    step = _step(summary)
    planned = summary.get("steps_planned", summary.get("steps"))
    burn_in = (summary.get("metrics") or {}).get("burn_in")
    judged = summary.get("verdict") in ("merged", "fragmented", "siloed")
    if not final:
        settling = (
            f", inside the {burn_in}-step burn-in while the organisation settles" if burn_in and step <= burn_in else ""
        )
        out.append(f"This is a reading at step {step} of {planned}{settling}: the run is not over.")
    if judged and _value(m, "converged") == 0:
        out.append(_not_converged(summary))
    out += _close_thresholds(summary) if judged else []
    out += _undefined(summary)
    early = summary.get("items_retired_early") or 0
    if early:
        out.append(
            f"{plural(early, 'item')} ended before their item_lifetime because the item store was full: the flow "
            "measures undercount how far those items would have spread."
        )
    warnings = summary.get("warnings") or []
    if warnings:
        out.append(
            f"{plural(len(warnings), 'warning').capitalize()} about the scenario (listed with the summary) "
            "may change this reading."
        )
    return out


def _not_converged(summary: dict) -> str:
    m, final = summary.get("measures", {}), summary.get("final", True)
    step = _step(summary)
    cfg = summary.get("metrics") or {}
    burn_in, window = cfg.get("burn_in"), cfg.get("window")
    trend = _value(m, "reach_trend")
    if not final:
        moved = f" (cross_reach moved {trend:+.3f} over the window)" if trend is not None else ""
        return f"Not settled yet{moved}: the verdict may still change before the run ends."
    if burn_in is not None and step <= burn_in:
        need = burn_in + (window or 0)
        return (
            f"Not converged: the run ends inside its {burn_in}-step burn-in, while the organisation settles; "
            f"run at least {need} steps ({need - step} more)."
        )
    moved = (
        f"cross_reach still moved {trend:+.3f} over the window"
        if trend is not None
        else "too few measurements in the window to tell whether cross_reach has settled"
    )
    tolerance = (
        f", more than the tolerance {cfg['tolerance']:g} and than its noise"
        if "tolerance" in cfg and trend is not None
        else ""
    )
    return f"Not converged: {moved}{tolerance}, so the verdict may change: run at least {2 * step} steps ({step} more)."


def _close_thresholds(summary: dict) -> list[str]:
    verdict, m, t = summary.get("verdict"), summary.get("measures", {}), _thresholds(summary)
    flips: dict[str, list[str]] = {}
    for key, other in (summary.get("verdict_variants") or {}).items():
        name, _, factor = key.partition(" x")
        if other != verdict and name in t:
            moved = min(t[name] * float(factor), 0.999 if name == "silo_floor" else 1.0)
            word = {"0.5": "halved", "1.5": "raised by half"}.get(factor, f"times {factor}")
            flips.setdefault(name, []).append(f"{word} ({moved:.3g}) it would be {other}")
    close = []
    for measure, name in THRESHOLD_OF:
        value = _value(m, measure)
        if value is not None and abs(value - t[name]) < max(CLOSE * t[name], 0.01):
            close.append(f"{measure} {value:.3f} is close to {name} {t[name]:g}")
    out = []
    if flips:
        said = "; ".join(f"with {name} {', or '.join(ways)}" for name, ways in flips.items())
        out.append(f"The verdict turns on its thresholds: {said}.")
    if close:
        out.append(f"Close to a threshold: {'; '.join(close)}, so a small change could tip the verdict.")
    return out


def _undefined(summary: dict) -> list[str]:
    """Why each undefined measure is undefined (n/a in the table)."""
    m, final = summary.get("measures", {}), summary.get("final", True)
    target = summary.get("insight_target")
    why = {
        "time_to_insight": (
            "no department is the insight target (metrics.insight_target is not set and no department is called rnd)"
            if "insight_target" in summary and target is None
            else f"most stakeholder insights that ended in the window never reached {target or 'the insight target'}"
            ", or none ended"
        ),
        "steps_to_merge": "the run has not been merged after its burn-in" + (" so far" if not final else ""),
        "fit": "no community has stakeholder members whose needs could be met",
        "knowledge": "no community has stakeholder members whose needs could be met",
        "broker_constraint": (
            "there is no community manager and no glue department to measure"
            if not summary.get("constraint")
            else "the brokers (community managers, glue department) have no ties yet"
        ),
        "ei_index": "there are no ties between members yet",
        "modularity": "there are no ties between members yet",
    }
    if summary.get("verdict") not in ("merged", "fragmented", "siloed"):
        return []  # nothing measured to speak of: the verdict sentence says why
    missing = [name for name in why if name in m and _value(m, name) is None]
    return [f"Undefined (n/a): {'; '.join(f'{name}, as {why[name]}' for name in missing)}."] if missing else []


# --------------------------------------------------------------------------- warnings before a run


def scenario_warnings(scenario: Scenario) -> list[str]:
    """What in a valid scenario would make a conclusion wrong: each warning names the field and what to do.

    Checks: a measure that can never be defined (``time_to_insight`` with no
    insight target or no insights; ``fit``, ``knowledge`` and insights where a
    community has no stakeholders), a run too short for its burn-in and window,
    too few measurements in the window to test convergence, items that never
    end before the run does, an event inside the verdict window, a single
    community, verdict thresholds in the wrong order.

    Args:
        scenario: a validated scenario.

    Returns:
        Warnings in words, in field order; empty when nothing applies.
    """
    return [
        *_insight_warnings(scenario),
        *_member_warnings(scenario),
        *_length_warnings(scenario),
        *_event_warnings(scenario),
        *_threshold_warnings(scenario),
    ]


def _insight_warnings(scenario: Scenario) -> list[str]:
    departments = [d.name for d in scenario.organization.departments]
    if insight_target(scenario) is None:
        listed = ", ".join(departments[:8]) + (", …" if len(departments) > 8 else "")
        return [
            "metrics.insight_target is not set and no department is called rnd, so time_to_insight can never be "
            "measured (n/a in every run): set metrics.insight_target to the department whose learning of "
            f"stakeholder insights should be timed (one of {listed})."
        ]
    if scenario.dynamics.insight_rate == 0:
        return [
            "dynamics.insight_rate is 0: no stakeholder insight is ever originated, so time_to_insight is n/a in "
            "every run: set dynamics.insight_rate above 0, or read nothing into time_to_insight."
        ]
    return []


def _expected_members(scenario: Scenario) -> list[float]:
    counts = {g.group: g.count for g in scenario.organization.stakeholders}
    return [sum(counts.get(g, 0) * share for g, share in c.members.items()) for c in scenario.communities]


def _member_warnings(scenario: Scenario) -> list[str]:
    expected = _expected_members(scenario)
    empty = [i for i, e in enumerate(expected) if e < 1]
    if not empty:
        return []
    if len(empty) == len(expected):
        return [
            "communities[].members: no community has stakeholder members, so fit, knowledge and time_to_insight "
            "can never be measured and only departments and community managers carry items: add the stakeholder "
            "groups who use each community to its members."
        ]
    out = []
    for i in empty:
        community = scenario.communities[i]
        joins = "has no stakeholder members" if expected[i] == 0 else f"expects {expected[i]:.2g} stakeholder members"
        out.append(
            f"communities[{i}].members ({community.name}) {joins}: its fit cannot be measured (it is left out of "
            "fit and knowledge), no stakeholder insight starts there, and its few members (departments and "
            "community managers) weigh as much in cross_reach as any community's, each pair counting once: add "
            "the stakeholder groups who use it, or remove it."
        )
    return out


def _window(scenario: Scenario) -> tuple[int, int]:
    """The verdict window at the last step, ``(start, end]``, as the model computes it."""
    cfg, steps = scenario.metrics, scenario.steps
    return (max(cfg.burn_in, steps - cfg.window) if steps > cfg.burn_in else 0), steps


def _length_warnings(scenario: Scenario) -> list[str]:
    cfg, steps = scenario.metrics, scenario.steps
    need = cfg.burn_in + cfg.window
    out = []
    if steps <= cfg.burn_in:
        out.append(
            f"steps ({steps}) ends inside the burn-in (metrics.burn_in {cfg.burn_in}): the verdict is read while "
            f"the organisation settles and is never converged: set steps to at least {need} (burn-in + window)."
        )
    elif steps < need:
        out.append(
            f"steps ({steps}) is shorter than metrics.burn_in + metrics.window ({cfg.burn_in} + {cfg.window}): the "
            f"verdict pools only the last {steps - cfg.burn_in} steps, not a {cfg.window}-step window: set steps "
            f"to at least {need}, or shorten metrics.window."
        )
    start, end = _window(scenario)
    points = end // cfg.every - start // cfg.every + (end % cfg.every != 0)  # every `every` steps, and the last
    if steps > cfg.burn_in and points < 3:
        out.append(
            f"metrics.every ({cfg.every}) leaves {plural(points, 'measurement')} in the verdict window (steps "
            f"{start}-{end}); a trend needs three, so converged is 0 in every run: set metrics.every to at most "
            f"{max((end - start) // 3, 1)}, or run longer."
        )
    if steps <= scenario.dynamics.item_lifetime:
        out.append(
            f"dynamics.item_lifetime ({scenario.dynamics.item_lifetime}) is not shorter than steps ({steps}): no "
            "item ends before the run does, so no flow is measured and the verdict is n/a: run more steps than "
            "the item lifetime."
        )
    return out


def _event_warnings(scenario: Scenario) -> list[str]:
    start, end = _window(scenario)
    out = []
    for i, event in enumerate(scenario.events):
        if start < event.at < end:
            keys = ", ".join(event.set)
            out.append(
                f"events[{i}] at step {event.at} ({keys}) falls inside the verdict window (steps {start}-{end}): "
                "the verdict and final measures pool the organisation before and after the change: set steps to at "
                f"least {event.at + scenario.metrics.window} so that the window starts after it, or move the event "
                f"before step {start}."
            )
    return out


def _threshold_warnings(scenario: Scenario) -> list[str]:
    out = []
    if len(scenario.communities) == 1:
        out.append(
            "communities: there is one community, so nothing can cross: the verdict is merged by definition and "
            "the flow measures compare nothing: add the organisation's other communities."
        )
    v = scenario.metrics.verdict
    if v.siloed_reach > v.merged_reach:
        out.append(
            f"metrics.verdict.siloed_reach ({v.siloed_reach:g}) is above merged_reach ({v.merged_reach:g}): a "
            "run whose items reach between the two is called siloed, although it crosses more than merged asks: "
            "set siloed_reach below merged_reach."
        )
    return out
