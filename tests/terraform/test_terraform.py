"""terraform/ for real: fmt, validate and checkov, then dev and prod applied against the
sandbox, re-planned with no changes, checked through boto3 as AWS would answer, and
destroyed leaving nothing behind. One apply per environment for the whole file (the two
run side by side: most of an apply is the provider waiting for S3 to settle)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from modeldeploy.package_lambda import build_zip
from orchestration.package_lambda import build_zip as build_orchestration_zip
from sandbox.demo.template import Template
from tests.terraform.conftest import ASL, ENVIRONMENTS, REPO, TERRAFORM_DIR, Terraform

CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
ORCHESTRATION_TEMPLATE = REPO / "codepipeline" / "orchestration.yml"
THRESHOLD = {"dev": 0.8, "prod": 0.9}
SCHEDULE = {"dev": "cron(0 6 * * ? *)", "prod": "cron(0 2 * * ? *)"}
# dev is applied with the orchestration module on (it then owns deployment), prod without.
ORCHESTRATED = {"dev": True, "prod": False}


def both(work) -> dict:
    """work(environment) for dev and prod side by side; {environment: result}."""
    with ThreadPoolExecutor(len(ENVIRONMENTS)) as pool:
        return dict(zip(ENVIRONMENTS, pool.map(work, ENVIRONMENTS), strict=True))


def test_formatted(terraform_binary):
    done = subprocess.run(
        [terraform_binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, f"run terraform fmt -recursive terraform/:\n{done.stdout}"


def test_make_test_runs_checkovs_terraform_checks():
    """checkov runs in `make lint`, the first half of `make test`, over the whole tree (a
    finding fails it); running it here too spent another 6 s of CPU."""
    import yaml

    hooks = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"]
    entries = [hook["entry"] for repo in hooks for hook in repo["hooks"]]
    assert f"{CHECKOV.relative_to(REPO)} --framework terraform" in " ".join(entries)
    assert any(e.endswith("--skip-download -d terraform") for e in entries)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: lint\b", makefile, re.MULTILINE)


@pytest.fixture(name="roots", scope="module")
def fixture_roots(
    terraform_binary, plugin_dir, terraform_env, terraform_tree, sandbox, tmp_path_factory
):
    """Each environment's root module, initialised, pointed at the sandbox."""
    zips = tmp_path_factory.mktemp("lambda")
    zip_path = build_zip(zips / "deploy-lambda.zip")
    env = {
        **terraform_env,
        **sandbox.environment,
        "TF_VAR_aws_max_retries": "2",  # an action the sandbox lacks fails now, not in minutes
        "TF_VAR_s3_use_path_style": "true",
        "TF_VAR_force_destroy": "true",
        "TF_VAR_kms_deletion_window_in_days": "7",
        "TF_VAR_lambda_zip_path": str(zip_path),
    }
    orchestration = {
        "TF_VAR_orchestration_enabled": "true",
        "TF_VAR_orchestration_zip_path": str(build_orchestration_zip(zips / "orchestration.zip")),
        "TF_VAR_orchestration_poll_seconds": "1",
    }
    roots = {
        environment: Terraform(
            terraform_binary,
            terraform_tree / "environments" / environment,
            {**env, **(orchestration if ORCHESTRATED[environment] else {})},
            plugin_dir,
        )
        for environment in ENVIRONMENTS
    }
    for root in roots.values():  # one after the other: they share the plugin cache
        root.init()
    return roots


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_valid(roots, environment):
    roots[environment].run("validate", "-no-color")


@pytest.fixture(name="applied", scope="module")
def fixture_applied(roots):
    """dev and prod applied; {environment: outputs}. Destroyed at the end if a test has
    not (test_destroy_leaves_nothing_behind does, and checks)."""

    def apply(environment: str) -> dict:
        root = roots[environment]
        root.run("apply", "-auto-approve", "-input=false", "-no-color")
        outputs = json.loads(root.run("output", "-json", "-no-color").stdout)
        orchestration = outputs.get("orchestration", {}).get("value")  # null: not in the state
        return {**outputs["model_build"]["value"], "orchestration": orchestration}

    try:
        yield both(apply)
    finally:
        both(lambda e: None if roots[e].destroyed else roots[e].destroy())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_second_plan_has_no_changes(roots, applied, environment):
    done = roots[environment].run(
        "plan", "-detailed-exitcode", "-input=false", "-no-color", ok=(0, 2)
    )
    assert done.returncode == 0, f"the re-plan wants changes:\n{done.stdout[-4000:]}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_pipeline_has_the_rendered_definition_and_its_code(sandbox, applied, environment):
    outputs = applied[environment]
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    described = sagemaker.describe_pipeline(PipelineName=outputs["pipeline_name"])
    assert described["RoleArn"] == outputs["pipeline_role_arn"]
    definition = json.loads(described["PipelineDefinition"])
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["MinRocAuc"] == THRESHOLD[environment]
    text = described["PipelineDefinition"]
    assert f'"ModelPackageGroupName": "{outputs["model_package_group_name"]}"' in text
    assert "${" not in text
    # Every piece of step code the definition names is in the bucket.
    bucket = outputs["bucket_name"]
    for value in _strings(definition):
        if value.startswith(f"s3://{bucket}/") and ("/code/" in value or "/input/" in value):
            key = value.removeprefix(f"s3://{bucket}/")
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0)
            assert listed, f"{value} names no object in the bucket"
    group = sagemaker.describe_model_package_group(
        ModelPackageGroupName=outputs["model_package_group_name"]
    )
    assert group["ModelPackageGroupStatus"] == "Completed"


def _strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def test_the_bucket_is_encrypted_versioned_private_tls_only_and_tells_eventbridge(sandbox, applied):
    s3 = sandbox.client("s3")
    for outputs in applied.values():
        bucket = outputs["bucket_name"]
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]["ApplyServerSideEncryptionByDefault"]
        assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": outputs["kms_key_arn"]}
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        [deny] = policy["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_schedule_and_new_data_start_the_pipeline_with_its_parameters(
    sandbox, applied, environment
):
    outputs = applied[environment]
    data_uri = f"s3://{outputs['bucket_name']}/data/"
    expected = {
        "InputDataUri": data_uri,
        "MinRocAuc": str(THRESHOLD[environment]),
        "ModelApprovalStatus": "PendingManualApproval",
    }
    schedule = sandbox.client("scheduler").get_schedule(Name=outputs["schedule_name"])
    assert schedule["ScheduleExpression"] == SCHEDULE[environment]
    assert schedule["Target"]["Arn"] == outputs["pipeline_arn"]
    parameters = schedule["Target"]["SageMakerPipelineParameters"]["PipelineParameterList"]
    assert {p["Name"]: p["Value"] for p in parameters} == expected

    events = sandbox.client("events")
    pattern = json.loads(events.describe_rule(Name=outputs["new_data_rule_name"])["EventPattern"])
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"] == {
        "bucket": {"name": [outputs["bucket_name"]]},
        "object": {"key": [{"prefix": "data/"}]},
    }
    [target] = events.list_targets_by_rule(Rule=outputs["new_data_rule_name"])["Targets"]
    assert target["Arn"] == outputs["pipeline_arn"]
    parameters = target["SageMakerPipelineParameters"]["PipelineParameterList"]
    assert {p["Name"]: p["Value"] for p in parameters} == expected


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_approval_invokes_the_deploy_lambda(sandbox, applied, environment):
    outputs = applied[environment]
    events = sandbox.client("events")
    rule = events.describe_rule(Name=outputs["approval_rule_name"])
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": [outputs["model_package_group_name"]],
            "ModelApprovalStatus": ["Approved"],
        },
    }
    targets = events.list_targets_by_rule(Rule=outputs["approval_rule_name"])["Targets"]
    function = sandbox.client("lambda").get_function(FunctionName=outputs["deploy_lambda_name"])
    # With orchestration on, the state machine's Deploy state invokes the Lambda instead.
    invoked = [] if ORCHESTRATED[environment] else [function["Configuration"]["FunctionArn"]]
    assert sorted(t["Arn"] for t in targets) == sorted([*invoked, outputs["deployments_topic_arn"]])
    configuration = function["Configuration"]
    assert configuration["Handler"] == "modeldeploy.approval_lambda.handler"
    variables = configuration["Environment"]["Variables"]
    assert variables["MODEL_PACKAGE_GROUP_NAME"] == outputs["model_package_group_name"]
    assert variables["STAGING_STACK_NAME"] == f"churn-{environment}-staging"
    assert variables["MODEL_EXECUTION_ROLE_ARN"] == outputs["model_execution_role_arn"]


def test_the_provisioned_pipeline_runs_as_the_schedule_starts_it(sandbox, applied, tmp_path):
    """The definition from the template, the step code Terraform uploaded and the role it
    created: an execution with the schedule's own parameters registers a package."""
    from pipelines.churn.generate_data import write_churn_csv
    from pipelines.execution import list_steps, registered_package_arn

    outputs = applied["dev"]
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    csv = write_churn_csv(tmp_path / "churn.csv", rows=2_000, seed=3)
    s3.upload_file(str(csv), outputs["bucket_name"], "data/churn.csv")
    target = sandbox.client("scheduler").get_schedule(Name=outputs["schedule_name"])["Target"]
    try:
        arn = sagemaker.start_pipeline_execution(
            PipelineName=outputs["pipeline_name"],
            PipelineParameters=target["SageMakerPipelineParameters"]["PipelineParameterList"],
        )["PipelineExecutionArn"]
        status = _wait_for(sagemaker, arn)
        steps = list_steps(sagemaker, arn) or []
        failures = {s["StepName"]: s.get("FailureReason") for s in steps if "FailureReason" in s}
        assert status == "Succeeded", failures
        package = registered_package_arn(steps)
        assert package and f"model-package/{outputs['model_package_group_name']}/" in package
    finally:
        _empty_the_group(sagemaker, outputs)  # as on AWS, destroy refuses a group with packages


def _wait_for(sagemaker, arn: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)[
            "PipelineExecutionStatus"
        ]
        if status not in ("Executing", "Stopping"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"{arn} still running after {timeout:.0f} s")


def _empty_the_group(sagemaker, outputs: dict) -> None:
    """Every execution ended (the new-data rule may have started one when the data landed,
    as EventBridge does), then every package of the group deleted."""
    executions = sagemaker.list_pipeline_executions(PipelineName=outputs["pipeline_name"])
    for execution in executions["PipelineExecutionSummaries"]:
        _wait_for(sagemaker, execution["PipelineExecutionArn"])
    group = outputs["model_package_group_name"]
    for package in sagemaker.list_model_packages(ModelPackageGroupName=group)[
        "ModelPackageSummaryList"
    ]:
        sagemaker.delete_model_package(ModelPackageName=package["ModelPackageArn"])


class _Deployed(Template):
    """codepipeline/orchestration.yml with its resources answered by what Terraform made."""

    def __init__(self, parameters: dict, resources: dict[str, str]):
        super().__init__(ORCHESTRATION_TEMPLATE, parameters, _no_imports)
        self.resources = resources

    def _ref(self, name: str) -> str:
        return self.resources[name] if name in self.resources else super()._ref(name)

    def _get_att(self, value) -> str:
        logical_id, _ = value if isinstance(value, list) else value.split(".", 1)
        return self.resources[logical_id]


def _no_imports(name: str) -> str:
    raise AssertionError(f"DefinitionSubstitutions import nothing, asked for {name}")


def test_the_state_machine_is_the_asl_file_as_cloudformation_substitutes_it(sandbox, applied):
    """The definition Terraform deployed (templatefile) is what CloudFormation's
    DefinitionSubstitutions make of the same file for the same values."""
    outputs = applied["dev"]
    orchestration = outputs["orchestration"]
    functions = orchestration["function_arns"]
    stack = _Deployed(
        {
            "SageMakerProjectName": outputs["pipeline_name"],
            "DeployFunctionArn": sandbox.client("lambda").get_function(
                FunctionName=outputs["deploy_lambda_name"]
            )["Configuration"]["FunctionArn"],
            "PipelinePollSeconds": "1",  # as the roots fixture sets it
        },
        {
            "ValidateDataFunction": functions["validate-data"],
            "ChampionGateFunction": functions["champion-gate"],
            "ApprovalMessageFunction": functions["approval-message"],
            "NotificationTopic": orchestration["notification_topic_arn"],
        },
    )
    substitutions = stack.resolve(
        stack.resource("StateMachine")["Properties"]["DefinitionSubstitutions"]
    )
    text = ASL.read_text()
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(substitutions)
    by_cloudformation = re.sub(r"\$\{(\w+)\}", lambda m: str(substitutions[m.group(1)]), text)
    deployed = sandbox.client("stepfunctions").describe_state_machine(
        stateMachineArn=orchestration["state_machine_arn"]
    )["definition"]
    assert json.loads(deployed) == json.loads(by_cloudformation)


def _deploy_invocations(sandbox, function_name: str) -> int:
    logs = sandbox.client("logs")
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{function_name}", filterPattern="START"
    )
    return sum(1 for page in pages for e in page["events"] if e["message"].startswith("START"))


def _waiting_for_approval(sfn, arn: str) -> bool:
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return any(
        e["type"] == "TaskSubmitted"
        and e["taskSubmittedEventDetails"]["resource"] == "publish.waitForTaskToken"
        for e in history
    )


def test_with_orchestration_an_approval_deploys_once(sandbox, applied, tmp_path, monkeypatch):
    """dev (orchestration on): the state machine runs the provisioned pipeline, `approve`
    marks the package Approved and resumes it; its Deploy state invokes the deploy Lambda,
    and the registry's approval event (the approval rule) does not invoke it again."""
    from orchestration.approval_cli import approve_main
    from pipelines.churn.generate_data import write_churn_csv

    for name, value in sandbox.environment.items():
        monkeypatch.setenv(name, value)
    outputs = applied["dev"]
    sfn, s3 = sandbox.client("stepfunctions"), sandbox.client("s3")
    csv = write_churn_csv(tmp_path / "churn.csv", rows=2_000, seed=5)
    key = "orchestration-input/churn.csv"  # not under data/: the new-data rule stays quiet
    s3.upload_file(str(csv), outputs["bucket_name"], key)
    before = _deploy_invocations(sandbox, outputs["deploy_lambda_name"])
    arn = sfn.start_execution(
        stateMachineArn=outputs["orchestration"]["state_machine_arn"],
        input=json.dumps({"InputDataUri": f"s3://{outputs['bucket_name']}/{key}"}),
    )["executionArn"]
    try:
        deadline = time.monotonic() + 300
        while not _waiting_for_approval(sfn, arn):
            status = sfn.describe_execution(executionArn=arn)["status"]
            assert status == "RUNNING" and time.monotonic() < deadline, status
            time.sleep(0.5)
        assert approve_main(["--execution-arn", arn, "--reason", "deploys once"]) == 0
        while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "still running"
            time.sleep(0.5)
        time.sleep(3)  # an asynchronous invocation by the rule would have started by now
        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        assert _deploy_invocations(sandbox, outputs["deploy_lambda_name"]) - before == 1
        output = json.loads(execution["output"])
        package = output["gate"]["verdict"]["candidate"]
        # The Lambda's own answer: the approved package, deployed to the staging stack.
        deployed = output["deploy"]["result"]
        assert deployed["package"] == package["model_package_arn"], deployed
        assert deployed["stack"] == "churn-dev-staging", deployed
        sagemaker = sandbox.client("sagemaker")
        described = sagemaker.describe_model_package(ModelPackageName=package["model_package_arn"])
        assert described["ModelApprovalStatus"] == "Approved"
    finally:
        _delete_stack(sandbox, "churn-dev-staging")  # the deploy Lambda's; not Terraform's
        _empty_the_group(sandbox.client("sagemaker"), outputs)


def _delete_stack(sandbox, name: str) -> None:
    cloudformation = sandbox.client("cloudformation")
    try:
        cloudformation.delete_stack(StackName=name)
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    except ClientError:
        pass


def test_the_drift_rule_matches_what_orchestration_yml_declares(sandbox, applied):
    """dev (orchestration on): the monitoring job's violation event for <project>-prod starts
    the state machine, with the same pattern as codepipeline/orchestration.yml's rule."""
    events = sandbox.client("events")
    rule = events.describe_rule(Name="churn-dev-drift-retraining")
    declared = Template(ORCHESTRATION_TEMPLATE, {"SageMakerProjectName": "churn-dev"}, _no_imports)
    rule_properties = declared.resource("DriftRetrainingRule")["Properties"]
    expected = declared.resolve(rule_properties["EventPattern"])
    assert (rule["State"], json.loads(rule["EventPattern"])) == ("ENABLED", expected)
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == applied["dev"]["orchestration"]["state_machine_arn"]
    template = target["InputTransformer"]["InputTemplate"]
    assert '"InputDataUri": "s3://' in template and '"reason": "drift"' in template


def test_no_role_has_a_managed_policy(sandbox, applied):
    iam = sandbox.client("iam")
    for environment in ENVIRONMENTS:
        roles = [
            r["RoleName"]
            for r in iam.list_roles()["Roles"]
            if r["RoleName"].startswith(f"churn-{environment}-")
        ]
        # pipeline, triggers, deploy Lambda, model (+ orchestration functions, state
        # machine, drift rule)
        assert len(roles) == (7 if ORCHESTRATED[environment] else 4), roles
        for role in roles:
            assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
                actions = [
                    action
                    for statement in document["Statement"]
                    for action in _as_list(statement["Action"])
                ]
                assert not [a for a in actions if a == "*" or a.endswith(":*")], (role, actions)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_destroy_leaves_nothing_behind(sandbox, roots, applied):
    both(lambda e: roots[e].destroy())
    for environment, outputs in applied.items():
        for describe in _describe_calls(sandbox, outputs):
            with pytest.raises(ClientError):
                describe()
        sagemaker = sandbox.client("sagemaker")
        groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
        assert outputs["model_package_group_name"] not in [
            g["ModelPackageGroupName"] for g in groups
        ]
        roles = [r["RoleName"] for r in sandbox.client("iam").list_roles()["Roles"]]
        assert not [r for r in roles if r.startswith(f"churn-{environment}-")]
        key = sandbox.client("kms").describe_key(KeyId=outputs["kms_key_arn"])["KeyMetadata"]
        assert key["KeyState"] == "PendingDeletion"  # KMS keeps a key for its waiting period
    print_timings(roots)


def _describe_calls(sandbox, outputs: dict) -> list:
    """A call per resource that fails once the resource is gone."""
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    events, scheduler = sandbox.client("events"), sandbox.client("scheduler")
    lam, sns = sandbox.client("lambda"), sandbox.client("sns")
    return [
        lambda: sagemaker.describe_pipeline(PipelineName=outputs["pipeline_name"]),
        lambda: s3.head_bucket(Bucket=outputs["bucket_name"]),
        lambda: scheduler.get_schedule(Name=outputs["schedule_name"]),
        lambda: events.describe_rule(Name=outputs["new_data_rule_name"]),
        lambda: events.describe_rule(Name=outputs["approval_rule_name"]),
        lambda: lam.get_function(FunctionName=outputs["deploy_lambda_name"]),
        lambda: sns.get_topic_attributes(TopicArn=outputs["deployments_topic_arn"]),
        *_orchestration_describe_calls(sandbox, outputs["orchestration"]),
    ]


def _orchestration_describe_calls(sandbox, orchestration: dict | None) -> list:
    if orchestration is None:
        return []
    sfn, lam = sandbox.client("stepfunctions"), sandbox.client("lambda")
    return [
        lambda: sfn.describe_state_machine(stateMachineArn=orchestration["state_machine_arn"]),
        lambda: sandbox.client("sns").get_topic_attributes(
            TopicArn=orchestration["notification_topic_arn"]
        ),
        *(
            (lambda arn=arn: lam.get_function(FunctionName=arn))
            for arn in orchestration["function_arns"].values()
        ),
    ]


def print_timings(roots: dict[str, Terraform]) -> None:
    for environment, root in roots.items():
        spent = ", ".join(f"{command} {seconds:.1f} s" for command, seconds in root.timings.items())
        print(f"terraform against the sandbox, {environment}: {spent}")
