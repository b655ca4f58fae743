"""Benchmarks: alsrec against its peers, measured in the same run."""
