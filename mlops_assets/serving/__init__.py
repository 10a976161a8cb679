"""Serving stage of the platform."""
