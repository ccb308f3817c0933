"""graphlab's measurements: `python -m benchmarks` (see README). Medians, ratios within one run."""
