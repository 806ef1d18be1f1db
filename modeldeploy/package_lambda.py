"""`python -m modeldeploy.package_lambda build/deploy-lambda.zip`: the deploy Lambda's zip.

What the function runs (modeldeploy's modules, the endpoint template and the stage
configs) and the one library the Lambda runtime lacks (PyYAML, its pure-Python part; the
runtime has boto3). The zip is reproducible: entries sorted, fixed timestamps and modes, so
the same sources give the same bytes and Terraform's source_code_hash, hence a re-plan,
shows no change.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import yaml

HERE = Path(__file__).parent
DATA_FILES = ("endpoint-config-template.yml", "staging-config.json", "prod-config.json")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry
LEFT_OUT = {"package_lambda.py"}  # the packager is not part of the function


def entries() -> dict[str, Path]:
    """{path in the zip: source file}."""
    found = {
        f"modeldeploy/{path.name}": path for path in HERE.glob("*.py") if path.name not in LEFT_OUT
    }
    found.update({f"modeldeploy/{name}": HERE / name for name in DATA_FILES})
    yaml_dir = Path(yaml.__file__).parent
    found.update({f"yaml/{path.name}": path for path in yaml_dir.glob("*.py")})
    return found


def build_zip(destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, source in sorted(entries().items()):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, source.read_bytes(), compresslevel=9)
    partial.replace(destination)  # never a half-written zip where Terraform reads it
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`: "))
    parser.add_argument(
        "destination", type=Path, nargs="?", default=Path("build/deploy-lambda.zip")
    )
    args = parser.parse_args(argv)
    print(f"wrote {build_zip(args.destination)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
