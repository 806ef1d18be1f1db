"""StopExecution stops an execution that waits for a task token, with its error and cause.

AWS: StopExecution ends a running execution at once, whatever it waits for (a task token,
a Wait state, a job): it is ABORTED, its history ends with ExecutionAborted (nothing is
recorded after the stop), and the `error` and `cause` given show in DescribeExecution.
moto's interpreter marks the program stopped, but a task waiting for its token keeps
waiting (for the task's TimeoutSeconds, 99999999 by default): the execution stays RUNNING;
and moto drops `error` and `cause`. The patch wakes the execution's waiting tasks and keeps
the stop final: a woken task's failure neither turns the execution FAILED nor enters the
history.
"""

from __future__ import annotations

import datetime
import functools
import time

from moto.core.responses import ActionResult

from sandbox.moto_patches import Internals, applied, mark

PATCH = "stop_waiting_execution"
ENDING_SECONDS = 5  # how long StopExecution waits for the interpreter to end the execution
STOPPED = "_sandbox_stopped"  # set on an execution's EventManager once it is stopped


def apply() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackEndpoint,
        CallbackPoolManager,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    check = Internals(PATCH)
    original_stop = check.function(StepFunctionResponse, "stop_execution", "self")
    original_error = check.function(Environment, "set_error", "self", "error")
    original_timed_out = check.function(Environment, "set_timed_out", "self")
    original_add = check.function(EventManager, "add_event", "self", "context", "event_type")
    check.attribute(StepFunctionResponse, "stepfunction_backend")
    check.function(StepFunctionsParserBackend, "describe_execution", "execution_arn")
    check.function(Execution, "stop", "stop_date", "error", "cause")
    check.instance_attributes(
        Execution, "exec_worker", "exec_status", "stop_date", "error", "cause"
    )
    check.instance_attributes(ExecutionWorker, "env")
    check.instance_attributes(
        Environment, "callback_pool_manager", "event_manager", "_program_state"
    )
    check.instance_attributes(CallbackPoolManager, "_pool")
    check.function(CallbackEndpoint, "interrupt_all")

    if applied(original_stop, PATCH):
        return

    @functools.wraps(original_error)
    def set_error(self, error):
        if not isinstance(self._program_state, ProgramStopped):  # a stop is final
            original_error(self, error)

    @functools.wraps(original_timed_out)
    def set_timed_out(self):
        if not isinstance(self._program_state, ProgramStopped):
            original_timed_out(self)

    @functools.wraps(original_add)
    def add_event(self, context, event_type, *args, **kwargs):
        if getattr(self, STOPPED, False) and event_type != HistoryEventType.ExecutionAborted:
            return 0  # what a woken task would record after the stop
        return original_add(self, context, event_type, *args, **kwargs)

    @functools.wraps(original_stop)
    def stop_execution(self):
        backend = self.stepfunction_backend
        if not isinstance(backend, StepFunctionsParserBackend):
            return original_stop(self)
        execution = backend.describe_execution(self._get_param("executionArn"))
        stop_date = datetime.datetime.now(tz=datetime.UTC)
        env = execution.exec_worker.env if execution.exec_worker else None
        if execution.status == "RUNNING" and env is not None:
            error, cause = self._get_param("error"), self._get_param("cause")
            setattr(env.event_manager, STOPPED, True)
            execution.stop(stop_date=stop_date, error=error, cause=cause)
            for endpoint in list(env.callback_pool_manager._pool.values()):
                endpoint.interrupt_all()  # a woken task finds the program stopped
            deadline = time.monotonic() + ENDING_SECONDS
            while execution.status == "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.01)
            if execution.status == "ABORTED":
                execution.error, execution.cause = error, cause
            stop_date = execution.stop_date or stop_date
        return ActionResult({"stopDate": stop_date})

    Environment.set_error = mark(set_error, PATCH)
    Environment.set_timed_out = mark(set_timed_out, PATCH)
    EventManager.add_event = mark(add_event, PATCH)
    StepFunctionResponse.stop_execution = mark(stop_execution, PATCH)
