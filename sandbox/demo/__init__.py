"""`python -m sandbox demo`: the whole CI/CD lifecycle on the sandbox, with a run report.

Sandbox → foundation stack → data → model build (`run-pipeline` against the sandbox) → approval →
the approval event → the deploy pipeline, stage by stage as `codepipeline/model-deploy.yml`
lists it → summary and `.sandbox/report/`.
"""

SCENARIOS = ("happy", "gate-failure", "rollback", "multi-account", "stepfunctions", "drift")
