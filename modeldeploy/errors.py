"""The error types of the deploy half, and how its CLIs turn them into one line and a code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError


class DeployError(Exception):
    """Deployment work failed (exit 1)."""


class ConfigError(ValueError):
    """A stage config, manifest or argument is wrong; the message names the file and field."""


def read_json_file(path: Path) -> Any:
    """Parse a JSON file; raises ConfigError naming the file (and line) when it cannot."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None


def run_cli(program: str, work: Callable[[], int]) -> int:
    """Run a CLI's work: a ConfigError exits 2 and a failure exits 1, each with one line."""
    try:
        return work()
    except ConfigError as err:
        print(f"{program}: {err}", file=sys.stderr)
        return 2
    except (DeployError, ClientError, BotoCoreError) as err:
        print(f"{program}: {err}", file=sys.stderr)
        return 1
    except ResponseParserError as err:  # a service answered what no API returns (an HTTP 500)
        print(
            f"{program}: unreadable answer from the service: {' '.join(str(err).split())}",
            file=sys.stderr,
        )
        return 1
