"""A Number parameter must be given a number.

AWS: CreateStack and CreateChangeSet answer ValidationError "Parameter 'X' must be a
number." when a `Type: Number` parameter is given something else, and create nothing.
moto: it accepts the call; executing the change set (or creating the stack) then fails
converting the value, and the server answers HTTP 500 with a body boto3 cannot parse (a
ResponseParserError, a change set and an empty stack left behind). The patch makes the
check AWS makes, before moto records anything.
"""

from __future__ import annotations

import functools
import inspect

from sandbox.moto_patches import Internals, applied, mark

PATCH = "number_parameters"
CALLS = ("create_change_set", "create_stack")


def _not_numbers(template_dict: dict, parameters: dict) -> list[str]:
    declared = template_dict.get("Parameters") or {}
    wrong = []
    for name, value in parameters.items():
        if (declared.get(name) or {}).get("Type") != "Number":
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            wrong.append(name)
    return wrong


def apply() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend, Stack

    check = Internals(PATCH)
    parse = check.function(Stack, "parse_template", "template")
    originals = {
        name: check.function(CloudFormationBackend, name, "self", "template", "parameters")
        for name in CALLS
    }

    for name, original in originals.items():
        if applied(original, PATCH):
            continue
        signature = inspect.signature(original)

        def checked(*args, _original=original, _signature=signature, **kwargs):
            call = _signature.bind(*args, **kwargs)
            try:
                template_dict = parse(call.arguments["template"]) or {}
            except ValueError:
                template_dict = {}  # moto reports an unreadable template itself
            wrong = _not_numbers(template_dict, call.arguments["parameters"] or {})
            if wrong:
                raise ValidationError(message=f"Parameter '{wrong[0]}' must be a number.")
            return _original(*args, **kwargs)

        setattr(CloudFormationBackend, name, mark(functools.wraps(original)(checked), PATCH))
