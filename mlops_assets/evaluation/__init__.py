"""Evaluation stage of the platform."""
