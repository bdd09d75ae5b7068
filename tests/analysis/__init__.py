"""Tests of silosim.analysis."""
