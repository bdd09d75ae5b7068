"""Organisational network analysis of a real organisation's data: read its network, measure its silos, simulate it."""
