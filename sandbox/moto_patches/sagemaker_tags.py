"""AddTags sets each tag key once.

AWS: SageMaker's AddTags overwrites the value of a key the resource has already, so
re-upserting a pipeline with the same tags (SDK v3's `Pipeline.upsert` calls AddTags after
UpdatePipeline) leaves one tag per key. moto: AddTags appends, and every upsert adds a
duplicate of every tag. The patch replaces the values of keys already there.
"""

from __future__ import annotations

import functools

from sandbox.moto_patches import Internals, applied, mark

PATCH = "sagemaker_tags"


def apply() -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    check = Internals(PATCH)
    original = check.function(SageMakerModelBackend, "add_tags", "self", "arn", "tags")
    check.function(SageMakerModelBackend, "_get_resource_from_arn", "self", "arn")
    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
        resource = self._get_resource_from_arn(arn)
        given = {tag["Key"]: tag for tag in tags}
        kept = [tag for tag in resource.tags if tag["Key"] not in given]
        resource.tags = kept + list(given.values())
        return resource.tags

    SageMakerModelBackend.add_tags = mark(add_tags, PATCH)
