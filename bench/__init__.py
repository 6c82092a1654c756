"""Benchmarks and synthetic data for govbot.

``bench.generate`` writes a synthetic multi-site organisation in the same file
shapes as ``examples/corvane``; ``python -m bench`` runs every ``bench_*.py``
module and writes ``docs/benchmarks.md`` (see ``bench/README.md``).
"""
