"""Experiments: sweep designs, the executor that runs them, and the sweep runner."""
