"""Shared pieces of the Portico benchmarks: configs, processes, wrk, reporting."""
