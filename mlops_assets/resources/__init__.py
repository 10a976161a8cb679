"""Resources stage of the platform."""
