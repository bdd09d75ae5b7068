"""Tests of silosim.viz."""
