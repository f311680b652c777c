"""The seed documents' code samples, run as users would: the import swapped, nothing else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
FENCE = re.compile(r"```python[^\n]*\n(.*?)```", re.DOTALL)


def snippets(seed: str) -> list[str]:
    """The python blocks of a seed file, in order, with `import cairn as wandb` for its import."""
    text = (SEEDS / seed).read_text()
    return [swap_import(block) for block in FENCE.findall(text)]


def swap_import(code: str) -> str:
    return re.sub(r"^import wandb$", "import cairn as wandb", code, flags=re.MULTILINE)


def run_script(
    code: str, cwd: Path, env: dict[str, str], timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    script = cwd / "snippet.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
