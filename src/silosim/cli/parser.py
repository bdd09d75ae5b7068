"""The command line's parser: argparse that raises :class:`UsageError` instead of exiting, and names the nearest option.

It also holds the argument types several commands share (``--scale``, a
positive whole number), so that each says its expectation in the same words.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import itertools
import math
import re
import sys
from typing import Any

from silosim.scenario import MAX_SCALE, Scenario, inner_model, nearest

# the keys of a sweep file (silosim.experiments.design.SweepSpec, not imported here: numpy is slow to load)
SWEEP_KEYS = ("base", "strategies", "vary", "design", "samples", "replications", "measures", "objective")


class UsageError(Exception):
    """A bad command line: the error handler prints it and exits 2."""


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, suggests the nearest option and says how to write common mistakes."""

    def parse_args(self, args: list[str] | None = None, namespace: argparse.Namespace | None = None) -> Any:
        """Parse as argparse does, keeping the words so that an error can say how to write them."""
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str) -> None:
        """Raise :class:`UsageError`; for unknown words, say whose option each is, the nearest or how to write it."""
        if message.startswith("unrecognized arguments:"):
            message = self._unknown(message.split(":", 1)[1].split())
        else:
            message = _reworded(message)
        raise UsageError(f"{self.prog}: {message}")

    def _unknown(self, words: list[str]) -> str:
        """The message for words no option takes: ``--set key 0.2``, a scenario key as an option, a typo."""
        # unknown words reach the top parser: suggest from the subcommands' options too
        owner = {o: "" for action in self._actions for o in action.option_strings}
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    for o in (o for a in sub._actions for o in a.option_strings):
                        owner.setdefault(o, name)
        argv = getattr(self, "_argv", [])
        written = _set_values(argv, words)
        command = next((w for w in argv if not w.startswith("-")), "")
        hints: list[str] = []
        taken: set[int] = set()  # words already explained with the one before them
        for i, word in enumerate(words):
            if i in taken:
                continue
            flag = word.split("=")[0]
            match = difflib.get_close_matches(flag, list(owner), n=1, cutoff=0.5)
            name = flag.lstrip("-").replace("-", "_")
            key = (_scenario_keys().get(name) or (name if name in SWEEP_KEYS else None)) if flag[:2] == "--" else None
            if word in written:
                same = [j for j in range(i, len(words)) if written.get(words[j]) == written[word]]
                taken.update(same)
                hints.append(f"'{' '.join(words[j] for j in same)}' (write {written[word]}: one word, no spaces)")
            elif match and match[0] == flag:
                where = f"of 'silosim {owner[flag]}' only" if owner[flag] else "of silosim itself: put it first"
                hints.append(f"'{word}' (an option {where})")
            elif key and flag not in owner:
                value = word.partition("=")[2]
                following = words[i + 1] if i + 1 < len(words) and "=" not in word else None
                if not value and following is not None and _follows(argv, word, following):
                    value = following
                    taken.add(i + 1)
                    word = f"{word} {following}"
                scenario_key = command == "run" and name in _scenario_keys()
                how = f"write --set {key}={value or 'VALUE'}" if scenario_key else "set it in the file"
                hints.append(f"'{word}' (a key of the file, not an option: {how})")
            else:
                hints.append(f"'{word}'" + (f" (did you mean '{match[0]}'?)" if match else ""))
        return "unknown argument " + ", ".join(hints)


def _set_values(argv: list[str], unknown: list[str]) -> dict[str, str]:
    """Unknown words that are the value of a ``--set`` written with a space (``--set key 0.2``) → how to write it."""
    found: dict[str, str] = {}
    for i, word in enumerate(argv):
        if word == "--set" and i + 1 < len(argv):
            key, rest = argv[i + 1], argv[i + 2 :]
        elif word.startswith("--set="):
            key, rest = word[len("--set=") :], argv[i + 1 :]
        else:
            continue
        taken = []
        for extra in rest[:2]:  # `key 0.2`, `key = 0.2`, `key= 0.2`, `key =0.2`
            if extra not in unknown or (extra.startswith("-") and extra != "-" and not _is_number(extra)):
                break
            taken.append(extra)
            if extra != "=":
                break
        value = "".join(taken).lstrip("=")
        if taken and value and "=" not in key.rstrip("="):
            for extra in taken:
                found[extra] = f"--set {key.rstrip('=').rstrip(':')}={value}"
    return found


def _follows(argv: list[str], word: str, following: str) -> bool:
    """``following`` comes right after ``word`` on the command line and is not an option (the value of a key)."""
    return any(a == word and b == following for a, b in itertools.pairwise(argv)) and (
        not following.startswith("-") or _is_number(following)
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_INVALID_VALUE = re.compile(r"argument (?P<flag>\S+): invalid (?P<kind>int|float) value: (?P<got>'.*')")
_INVALID_CHOICE = re.compile(r"argument (?P<flag>\S+): invalid choice: '(?P<got>.*?)' \(choose from (?P<options>.*)\)")


def _reworded(message: str) -> str:
    """An argparse message in the project's words: what was expected, the nearest valid choice."""
    if found := _INVALID_VALUE.fullmatch(message):
        expected = "a whole number" if found["kind"] == "int" else "a number"
        return f"argument {found['flag']}: expected {expected}, got {found['got']}"
    if found := _INVALID_CHOICE.fullmatch(message):
        options = [o.strip(" '") for o in found["options"].split(",")]
        hint = nearest(found["got"], options)
        if "did you mean" in hint:
            return f"argument {found['flag']}: invalid choice: '{found['got']}'{hint}"
    if message == "argument --set: expected one argument":
        return "argument --set: expected KEY=VALUE after it, e.g. --set ownership.rule=glue"
    return message


@functools.cache
def _scenario_keys() -> dict[str, str]:
    """A scenario key's last name → its dotted key (``drift`` → ``dynamics.drift``), for keys ``--set`` can name."""
    keys: dict[str, str] = {}

    def walk(model: type, prefix: str) -> None:
        for name, field in model.model_fields.items():
            sub = inner_model(field.annotation)
            if sub is None:
                keys.setdefault(name, prefix + name)
            elif getattr(field.annotation, "__origin__", None) is not list:
                walk(sub, f"{prefix}{name}.")

    walk(Scenario, "")
    return keys


def add_scale(parser: argparse.ArgumentParser) -> None:
    """Add ``--scale K``: the same organisation K times larger."""
    parser.add_argument(
        "--scale",
        type=_scale,
        default=1.0,
        metavar="K",
        help="the same organisation K times larger: stakeholder counts, department headcounts and community "
        "managers' capacity (dynamics.cm_exchanges) times K; rates per person, shares, reach, openness and steps "
        f"unchanged (0 < K <= {MAX_SCALE}; default 1)",
    )


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SCALE:  # NaN, inf and non-numbers fail this too
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most {MAX_SCALE}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value
