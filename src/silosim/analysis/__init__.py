"""Analysis of results: statistics in reports, plots, the community graph, exports."""
