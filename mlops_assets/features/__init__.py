"""Features stage of the platform."""
