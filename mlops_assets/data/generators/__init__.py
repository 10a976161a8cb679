"""Synthetic data sources: deterministic per (seed, day), with drift knobs."""
