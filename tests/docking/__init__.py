"""Tests of silosim.docking."""
