"""Data stage of the platform."""
