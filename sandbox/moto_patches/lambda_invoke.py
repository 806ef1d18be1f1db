"""Lambda's Invoke runs the function's handler.

AWS: Invoke runs the function's code and answers with what the handler returned, or with
FunctionError "Unhandled" and the error document when it raised or timed out;
InvocationType=Event queues the invocation and answers 202 at once; the log goes to
CloudWatch Logs. moto without Docker (the backend the sandbox uses, see orchestration_services.py)
answers with the request's own payload and runs nothing. The patch hands Python zip
functions to the sandbox's LambdaRuntime (lambda_runtime.py); anything else (container
images, other runtimes) keeps moto's answer. The Step Functions interpreter's Lambda tasks
come through Invoke too.
"""

from __future__ import annotations

import functools

from sandbox import lambda_runtime, orchestration_services
from sandbox.moto_patches import Internals, applied, mark

PATCH = "lambda_invoke"


def apply() -> None:
    from moto.awslambda import responses
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    check = Internals(PATCH)
    original = check.function(
        LambdaSimpleBackend,
        "invoke",
        "self",
        "function_name",
        "qualifier",
        "body",
        "headers",
        "response_headers",
    )
    check.function(LambdaSimpleBackend, "get_function", "function_name_or_arn", "qualifier")
    check.instance_attributes(
        LambdaFunction,
        "function_name",
        "function_arn",
        "handler",
        "run_time",
        "environment_vars",
        "timeout",
        "memory_size",
        "code_bytes",
        "package_type",
        "account_id",
        "region",
        "version",
    )
    check.calls(responses.LambdaResponse.invoke, "self.backend.invoke(")

    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def invoke(self, function_name, qualifier, body, headers, response_headers):
        running = orchestration_services.current()
        function = self.get_function(function_name, qualifier)
        if running is None or not lambda_runtime.runs_here(function):
            return original(self, function_name, qualifier, body, headers, response_headers)
        kind = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        event = body if isinstance(body, bytes) else (body or "").encode("utf-8")
        if kind == "DryRun":
            return b""
        if kind == "Event":
            response_headers["x-amzn-requestid"] = running.runtime.invoke_async(
                function, event, function_name if ":" in function_name else None
            )
            return b""
        result = running.runtime.invoke(
            function, event, function_name if ":" in function_name else None
        )
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["x-amz-log-result"] = result.log_tail
        response_headers["x-amz-executed-version"] = str(function.version)
        response_headers["x-amzn-requestid"] = result.request_id
        response_headers["Content-Length"] = str(len(result.payload))
        return result.payload

    LambdaSimpleBackend.invoke = mark(invoke, PATCH)
