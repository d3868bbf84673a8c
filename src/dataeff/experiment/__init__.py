"""Experiment: the plan of cells, the runner that executes them and the store that keeps them."""
