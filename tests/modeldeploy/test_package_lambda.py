"""The deploy Lambda's zip (modeldeploy/package_lambda.py): the same sources give the same
bytes (so Terraform's source_code_hash, hence a re-plan, is stable), and the handler
imports from the zip alone with what the Lambda runtime provides (boto3)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile

from modeldeploy import package_lambda


def test_the_zip_is_reproducible(tmp_path):
    first = package_lambda.build_zip(tmp_path / "a" / "deploy-lambda.zip")
    second = package_lambda.build_zip(tmp_path / "b" / "deploy-lambda.zip")
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert names == sorted(names)
    assert "modeldeploy/approval_lambda.py" in names
    assert "modeldeploy/endpoint-config-template.yml" in names
    assert "modeldeploy/staging-config.json" in names
    assert "yaml/__init__.py" in names
    assert "modeldeploy/package_lambda.py" not in names
    assert not [n for n in names if n.endswith((".so", ".pyc"))]  # any runtime, any CPU


def test_the_handler_imports_from_the_zip_alone(tmp_path):
    archive = package_lambda.build_zip(tmp_path / "deploy-lambda.zip")
    # A bare interpreter (-I -S: no site-packages, no user paths) given the zip first, then
    # this environment's site-packages for boto3 (the runtime's own copy on Lambda).
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]);"
        "import modeldeploy.approval_lambda as f, yaml;"
        "print(f.__file__); print(yaml.__file__); print(callable(f.handler))"
    )
    site = sysconfig.get_paths()["purelib"]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(archive), site],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    handler_file, yaml_file, callable_ = done.stdout.split()
    assert handler_file.startswith(str(archive))
    assert yaml_file.startswith(str(archive))
    assert callable_ == "True"
