"""`python -m benchmarks.endpoint_load URL ENDPOINT BODY_FILE N`: N InvokeEndpoint calls at
once, from this process (a separate one from the sandbox, as a smoke test under load is).

Every request thread is started and waits at a barrier, so that all N calls leave together.
Prints one JSON object: each call's seconds and HTTP status.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def fire(endpoint_url: str, endpoint: str, body: bytes, count: int) -> list[dict]:
    """`count` concurrent CSV invocations; returns [{"seconds", "status"}] in start order."""
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        # One connection per call, no retries: a refused or throttled call is a result.
        config=Config(max_pool_connections=count, retries={"max_attempts": 1}, read_timeout=120),
    )
    results: list[dict] = [{} for _ in range(count)]
    barrier = threading.Barrier(count)

    def call(index: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        try:
            response = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="application/json"
            )
            response["Body"].read()
            status = response["ResponseMetadata"]["HTTPStatusCode"]
        except ClientError as err:
            status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        results[index] = {"seconds": time.perf_counter() - started, "status": status}

    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    endpoint_url, endpoint, body_file, count = args
    print(json.dumps(fire(endpoint_url, endpoint, Path(body_file).read_bytes(), int(count))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
