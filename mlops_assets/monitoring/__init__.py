"""Monitoring stage of the platform."""
