"""Benchmarks of the suite's parts against real servers; run each as `python -m bench.<name>`."""
