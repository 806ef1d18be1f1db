"""GetBucketNotificationConfiguration reports EventBridge delivery, as S3 does.

AWS: a bucket whose notification configuration has `EventBridgeConfiguration` (every
event to EventBridge, where rules such as terraform's new-data rule match Object Created)
returns it from GetBucketNotificationConfiguration. moto stores it (and sends the events)
but leaves it out of the answer, so `terraform plan` of an `aws_s3_bucket_notification`
with `eventbridge = true` always shows false -> true. The patch adds it to the answer.
"""

from __future__ import annotations

import functools

from sandbox.moto_patches import Internals, applied, mark

PATCH = "bucket_notification_eventbridge"


def apply() -> None:
    from moto.core.responses import ActionResult
    from moto.s3.models import NotificationConfiguration, S3Backend
    from moto.s3.responses import S3Response

    check = Internals(PATCH)
    original = check.function(S3Response, "get_bucket_notification", "self")
    check.function(S3Backend, "get_bucket_notification_configuration", "self", "bucket_name")
    check.attribute(S3Response, "serialized")
    check.instance_attributes(NotificationConfiguration, "event_bridge")
    check.calls(original, "self.serialized")
    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def get_bucket_notification(self):
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return original(self)
        serialized = self.serialized

        def with_event_bridge(result):
            if isinstance(result, ActionResult) and isinstance(result.result, dict):
                result = ActionResult({**result.result, "EventBridgeConfiguration": {}})
            return serialized(result)

        self.serialized = with_event_bridge  # this request's response object only
        try:
            return original(self)
        finally:
            del self.serialized

    S3Response.get_bucket_notification = mark(get_bucket_notification, PATCH)
