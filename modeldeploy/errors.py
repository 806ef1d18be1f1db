"""The few error types of the deploy half; each CLI turns them into one line and an exit code."""


class DeployError(Exception):
    """Deployment work failed (exit 1)."""


class ConfigError(ValueError):
    """A stage config, manifest or argument is wrong; the message names the file and field."""
