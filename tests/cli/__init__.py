"""Tests of silosim.cli."""
