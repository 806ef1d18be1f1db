"""The sandbox: an embedded, AWS-shaped stand-in that runs the whole lifecycle locally.

    from sandbox import Sandbox
    with Sandbox() as sandbox:
        ...  # sandbox.endpoint_url, sandbox.client("s3"), sandbox.environment

`python -m sandbox up | down | status` keeps one running for longer sessions.
"""

from sandbox.server import Sandbox

__all__ = ["Sandbox"]
