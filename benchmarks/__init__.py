"""Benchmarks: figures, not pass/fail (run as ``python -m benchmarks.speed``)."""
