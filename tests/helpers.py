"""Shared test helpers: the repository root and small organisations built in code."""

import copy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository


def three_islands() -> dict:
    """Three departments, each alone in its own community with its own stakeholders."""
    return {
        "name": "three_islands",
        "seed": 3,
        "steps": 150,
        "organization": {
            "departments": [
                {"name": "marketing", "headcount": 10, "reach": 0.5, "openness": 0.5},
                {"name": "hr", "headcount": 10, "reach": 0.5, "openness": 0.5},
                {"name": "rnd", "headcount": 10, "reach": 0.5, "openness": 0.5},
                {"name": "comms", "headcount": 12, "reach": 0.8, "openness": 0.9},
            ],
            "stakeholders": [
                {"group": "consumers", "count": 300, "external": True, "activity": 0.5},
                {"group": "employees", "count": 300, "external": False, "activity": 0.5},
                {"group": "partners", "count": 300, "external": True, "activity": 0.5},
            ],
        },
        "communities": [
            {
                "name": "brand_page",
                "audience": "external",
                "involvement": {"marketing": 0.9},
                "members": {"consumers": 1.0},
            },
            {"name": "esn", "audience": "internal", "involvement": {"hr": 0.9}, "members": {"employees": 1.0}},
            {"name": "lab", "audience": "external", "involvement": {"rnd": 0.9}, "members": {"partners": 1.0}},
        ],
        "ownership": {"rule": "most_involved", "cross_posting": "closed"},
    }


def glued(data: dict) -> dict:
    """The same organisation with a glue department, open cross-posting and an outside CM."""
    data = copy.deepcopy(data)
    data["ownership"] = {"rule": "glue", "glue": "comms", "cross_posting": "open"}
    data["organization"]["community_managers"] = [
        {"name": "freelance_cm", "home": None, "capacity": 3, "brokerage": 0.8}
    ]
    return data


# Debian's chromium, driven by Playwright in the browser tests; nothing downloads a browser of its own
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
