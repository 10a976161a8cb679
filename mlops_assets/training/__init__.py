"""Training stage of the platform."""
