"""Tests of silosim."""
