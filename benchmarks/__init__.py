"""Benchmarks of optadvisor: advice quality and service performance (run from the repository root)."""
