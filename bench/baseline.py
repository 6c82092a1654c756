"""The design a benchmark's goal replaced, measured in the same run: govbot as it was at ``REVISION``.

``tree()`` extracts that revision of this repository (``git archive``) into ``bench/out/baseline-<rev>/``
once; benchmarks import one of its modules under a private name (``module``) or run its ``govbot serve``
(``python_path``), so the "before" figure comes from the code that ran before, on the same machine, data
and load as the "after" figure.  Without git or the revision (an exported source tree) the baseline rows
say so and the benchmarks still run.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
# The last revision with one catalog index per process (built by each worker at start) and the
# index of dictionaries and int64 hash arrays.
REVISION = "08fb60e627c4330e1ac728406aae0872d684e392"
LABEL = f"rev {REVISION[:7]}"


class BaselineUnavailable(RuntimeError):
    pass


def tree() -> Path:
    """The baseline revision's files (extracted once); raises :class:`BaselineUnavailable`."""
    target = OUT / f"baseline-{REVISION[:12]}"
    if (target / ".complete").exists():
        return target
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", REVISION],
                                 capture_output=True, check=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BaselineUnavailable(f"git archive {REVISION[:7]} failed: {exc}") from None
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    (target / ".complete").write_text(REVISION)
    return target


def module(relative: str, name: str) -> ModuleType:
    """Import ``relative`` (e.g. ``governance_store/lookup.py``) of the baseline tree as module ``name``;
    its own imports resolve against this checkout."""
    path = tree() / relative
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BaselineUnavailable(f"cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
