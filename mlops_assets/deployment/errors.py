"""The deployment error, shared by the deployers (Dagster resources) and the pure rollout plan."""


class DeploymentError(RuntimeError):
    """A deployment that did not happen; the message says why and what the endpoint serves now."""
