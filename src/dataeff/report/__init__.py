"""Report: learning-curve figures and the run's written summaries."""
