"""Analysis: curve statistics now; fits, targets, crossovers and costs build on them."""
