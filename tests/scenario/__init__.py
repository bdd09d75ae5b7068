"""Tests of silosim.scenario."""
