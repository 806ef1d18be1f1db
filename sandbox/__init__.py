"""The sandbox: an embedded, AWS-shaped stand-in that runs the whole lifecycle locally.

    from sandbox import Sandbox
    with Sandbox() as sandbox:
        ...  # sandbox.endpoint_url, sandbox.client("s3"), sandbox.environment

`python -m sandbox up | down | status` keeps one running for longer sessions.
"""

__all__ = ["Sandbox"]


def __getattr__(name: str):
    # Imported on first use: the server loads moto (2-3 s), which `python -m sandbox status`,
    # `env` and `down` do without.
    if name == "Sandbox":
        from sandbox.server import Sandbox

        return Sandbox
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
