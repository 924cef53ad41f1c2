"""CLI commands: audit. `register` adds this group's sub-commands to the parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def register(sub: argparse._SubParsersAction, add_common: Callable[..., None]) -> None:
    """Add this module's commands; each sets `handler=` to a function returning a dict."""
