"""Deployment stage of the platform."""
