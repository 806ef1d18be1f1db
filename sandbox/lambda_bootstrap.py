"""The Lambda Python runtime's loop, for one invocation: what runs in a function's process.

Run by lambda_runtime.py as `python -c <this file's source> RESULT_FILE`, in the function's
unpacked code folder (`LAMBDA_TASK_ROOT`, first on the path, as /var/task is on AWS), with
the event on stdin. It imports the handler ("module.function"), calls it with the event and
a context object, and writes what the Lambda service would return to RESULT_FILE: the
result as JSON, or AWS's error document (errorMessage, errorType, stackTrace). stdout and
stderr are the function's log. Standard library only: it runs beside the function's code.
"""

import importlib
import json
import os
import signal
import sys
import time
import traceback


class LambdaContext:
    """The attributes and method of AWS's Python context object that handlers use."""

    def __init__(self, deadline: float):
        self._deadline = deadline
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = os.environ["_SANDBOX_INVOKED_FUNCTION_ARN"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = os.environ["_SANDBOX_REQUEST_ID"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(kind: str, message: str, trace: list[str] | None = None) -> dict:
    return {
        "errorMessage": message,
        "errorType": kind,
        "requestId": os.environ["_SANDBOX_REQUEST_ID"],
        "stackTrace": trace or [],
    }


def _load_handler(spec: str):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise _Failure(_error("Runtime.MalformedHandlerName", f"Bad handler '{spec}'"))
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as err:
        message = f"Unable to import module '{module_name}': {err}"
        raise _Failure(_error("Runtime.ImportModuleError", message)) from None
    except Exception as err:  # noqa: BLE001 — the module's own code failed, as AWS reports
        trace = traceback.format_list(traceback.extract_tb(err.__traceback__))
        raise _Failure(_error(type(err).__name__, str(err), trace)) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise _Failure(_error("Runtime.HandlerNotFound", message))
    return handler


class _Failure(Exception):
    def __init__(self, document: dict):
        self.document = document


def _time_out(result_file: str) -> None:
    """At the function's timeout: say so, then end this process and all it started."""
    with open(result_file, "w", encoding="utf-8") as file:
        json.dump({"timed_out": True}, file)
    sys.stdout.flush()
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main(result_file: str) -> int:
    event = json.loads(sys.stdin.read() or "{}")
    try:
        handler = _load_handler(os.environ["_HANDLER"])
        # As on AWS, the timeout counts from the handler's call: the imports above are the
        # init phase, which has a limit of its own (the runtime's, around this process).
        timeout = float(os.environ["_SANDBOX_TIMEOUT"])
        deadline = time.time() + timeout
        signal.signal(signal.SIGALRM, lambda *_: _time_out(result_file))
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = handler(event, LambdaContext(deadline))
        except Exception as err:  # noqa: BLE001 — every exception is the function's error
            frames = traceback.extract_tb(err.__traceback__)[1:]  # without this file's call
            raise _Failure(
                _error(type(err).__name__, str(err), traceback.format_list(frames))
            ) from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            document = {"result": json.dumps(result)}
        except (TypeError, ValueError) as err:
            message = f"Unable to marshal response: {err}"
            raise _Failure(_error("Runtime.MarshalError", message)) from None
    except _Failure as failure:
        document = {"error": failure.document}
        print(f"[ERROR] {failure.document['errorType']}: {failure.document['errorMessage']}")
    sys.stdout.flush()
    with open(result_file, "w", encoding="utf-8") as file:
        json.dump(document, file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
