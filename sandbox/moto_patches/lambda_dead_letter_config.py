"""A Lambda function keeps its DeadLetterConfig, as Lambda does.

AWS: CreateFunction and UpdateFunctionConfiguration take `DeadLetterConfig` (the SNS topic
or SQS queue that gets events an asynchronous invocation failed on), and GetFunction
returns it. moto: the setting is dropped, so every `terraform plan` of a function with a
`dead_letter_config` (terraform/modules/approval-deploy) shows it as a change to make,
forever. The patch keeps it on the function and returns it in its configuration.
"""

from __future__ import annotations

import functools

from sandbox.moto_patches import Internals, applied, mark

PATCH = "lambda_dead_letter_config"
FIELD = "DeadLetterConfig"


def apply() -> None:
    from moto.awslambda.models import LambdaFunction

    check = Internals(PATCH)
    init = check.function(LambdaFunction, "__init__", "self", "spec")
    get_configuration = check.function(LambdaFunction, "get_configuration", "self")
    update_configuration = check.function(
        LambdaFunction, "update_configuration", "self", "config_updates"
    )
    if applied(get_configuration, PATCH):
        return

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        spec = kwargs.get("spec", args[1] if len(args) > 1 else {})
        self.dead_letter_config = spec.get(FIELD)

    @functools.wraps(update_configuration)
    def update(self, config_updates):
        if FIELD in config_updates:
            self.dead_letter_config = config_updates[FIELD]
        return update_configuration(self, config_updates)

    @functools.wraps(get_configuration)
    def configuration(self, *args, **kwargs):
        config = get_configuration(self, *args, **kwargs)
        target = getattr(self, "dead_letter_config", None) or {}
        if target.get("TargetArn"):  # an empty TargetArn removes it, as in AWS
            config[FIELD] = {"TargetArn": target["TargetArn"]}
        return config

    LambdaFunction.__init__ = mark(__init__, PATCH)
    LambdaFunction.update_configuration = mark(update, PATCH)
    LambdaFunction.get_configuration = mark(configuration, PATCH)
