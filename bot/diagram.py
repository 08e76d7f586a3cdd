"""Mermaid diagrams to PNG, when a renderer is installed; otherwise the caller shows the source.

The renderer is mermaid-cli's `mmdc` (https://github.com/mermaid-js/mermaid-cli), found on PATH
or named by `DOJO_MERMAID_CLI`. It is optional: it needs Node and a headless browser, which many
deployments do not have, and a diagram's source is readable on its own.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger("dojo.diagram")
TIMEOUT_SECONDS = 60
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def renderer() -> str | None:
    """The path of the Mermaid renderer, or None when none is installed."""
    return shutil.which(os.environ.get("DOJO_MERMAID_CLI", "mmdc"))


def mermaid_png(source: str) -> bytes | None:
    """The diagram as PNG bytes; None when no renderer is installed or it fails (logged)."""
    command = renderer()
    if command is None:
        return None
    with tempfile.TemporaryDirectory(prefix="dojo-mermaid-") as tmp:
        given, made = Path(tmp) / "diagram.mmd", Path(tmp) / "diagram.png"
        given.write_text(source, encoding="utf-8")
        try:
            subprocess.run(
                [command, "-i", str(given), "-o", str(made)],
                check=True,
                capture_output=True,
                timeout=TIMEOUT_SECONDS,
            )
            png = made.read_bytes()
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("the Mermaid renderer failed; showing the source instead: %s", exc)
            return None
    if not png.startswith(PNG_MAGIC):
        log.warning("the Mermaid renderer wrote something that is not a PNG; showing the source")
        return None
    return png
