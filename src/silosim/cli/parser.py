"""The command line's parser: argparse that raises :class:`UsageError` instead of exiting, and names the nearest option.

It also holds the argument types several commands share (``--scale``, a
positive whole number), so that each says its expectation in the same words.
"""

from __future__ import annotations

import argparse
import difflib
import math

from silosim.scenario import MAX_SCALE


class UsageError(Exception):
    """A bad command line: the error handler prints it and exits 2."""


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, and suggests the nearest option."""

    def error(self, message: str) -> None:
        """Raise :class:`UsageError`; for unknown words, say whose option each is or the nearest one."""
        if message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            # unknown words reach the top parser: suggest from the subcommands' options too
            owner = {o: "" for action in self._actions for o in action.option_strings}
            for action in self._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        for o in (o for a in sub._actions for o in a.option_strings):
                            owner.setdefault(o, name)
            hints = []
            for word in words:
                flag = word.split("=")[0]
                match = difflib.get_close_matches(flag, list(owner), n=1, cutoff=0.5)
                if match and match[0] == flag:
                    where = f"of 'silosim {owner[flag]}' only" if owner[flag] else "of silosim itself: put it first"
                    hints.append(f"'{word}' (an option {where})")
                else:
                    hints.append(f"'{word}'" + (f" (did you mean '{match[0]}'?)" if match else ""))
            message = "unknown argument " + ", ".join(hints)
        raise UsageError(f"{self.prog}: {message}")


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
