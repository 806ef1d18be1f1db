"""`python -m orchestration.package_lambda build/orchestration-lambda.zip`: the orchestration
Lambdas' zip for Terraform (terraform/modules/orchestration).

This folder as `aws cloudformation package` zips it for codepipeline/orchestration.yml
(handlers `lambdas.<module>.handler`, the data contracts beside them), made reproducible as
modeldeploy/package_lambda.py makes the deploy Lambda's: entries sorted, fixed timestamps and
modes, so the same sources give the same bytes and a re-plan shows no change.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry
LEFT_OUT = {"package_lambda.py"}  # the packager is not part of the functions


def entries() -> dict[str, Path]:
    """{path in the zip: source file}: every file of the folder but bytecode."""
    return {
        path.relative_to(HERE).as_posix(): path
        for path in HERE.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        and path.name not in LEFT_OUT
    }


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
        "destination", type=Path, nargs="?", default=Path("build/orchestration-lambda.zip")
    )
    args = parser.parse_args(argv)
    print(f"wrote {build_zip(args.destination)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
