"""The orchestration Lambdas' zip for Terraform (orchestration/package_lambda.py): what
`aws cloudformation package` makes of the folder (handlers `lambdas.<module>.handler`, the
data contracts beside them), the same bytes from the same sources (a stable re-plan), and
each handler importable from the zip alone."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile

from orchestration import package_lambda

HANDLERS = ("lambdas.validate_data", "lambdas.champion_gate", "lambdas.approval_message")


def test_the_zip_is_the_folder_reproducibly(tmp_path):
    first = package_lambda.build_zip(tmp_path / "a" / "orchestration-lambda.zip")
    second = package_lambda.build_zip(tmp_path / "b" / "orchestration-lambda.zip")
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert names == sorted(names)
    for module in HANDLERS:
        assert module.replace(".", "/") + ".py" in names
    assert "data_contract/churn-v1.json" in names and "state_machine.asl.json" in names
    assert "package_lambda.py" not in names
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]


def test_every_handler_imports_from_the_zip_alone(tmp_path):
    archive = package_lambda.build_zip(tmp_path / "orchestration-lambda.zip")
    # A bare interpreter given the zip first, then site-packages for boto3 (the runtime's).
    probe = (
        "import importlib, sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]);"
        "modules = [importlib.import_module(m) for m in sys.argv[3:]];"
        "print(all(m.__file__.startswith(sys.argv[1]) and callable(m.handler) for m in modules))"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            probe,
            str(archive),
            sysconfig.get_paths()["purelib"],
            *HANDLERS,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
