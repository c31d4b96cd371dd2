"""Benchmarks of Gatescope: `python -m benchmarks.forward` (engine) and `python -m benchmarks.serve` (HTTP).

Both measure with one thread, report medians and interleave the competitors so that the
drift of a shared, noisy machine hits them all alike. Results go to benchmarks/results/.
"""
