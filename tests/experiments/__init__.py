"""Tests of silosim.experiments."""
