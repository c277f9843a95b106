"""``socialcare local --reload``: recycle a function's worker when the Python code it runs changes."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialcare_infra.stack import LocalStack

log = logging.getLogger(__name__)


class CodeWatcher(threading.Thread):
    """``reload``: recycle a function's worker when Python code it runs changes on disk.

    A change under a function's CodeUri recycles that function; a change in the shared package
    (or in this one) recycles every function. The next invocation cold-starts on the new code.
    """

    def __init__(self, stack: LocalStack, stop: threading.Event, interval_s: float = 0.5) -> None:
        super().__init__(name="code-watcher", daemon=True)
        self.stack = stack
        self.interval_s = interval_s
        self._stop_event = stop
        self.shared_roots = package_dirs()

    @staticmethod
    def snapshot(root: Path) -> dict[Path, float]:
        stamps: dict[Path, float] = {}
        for path in root.rglob("*.py"):
            try:
                stamps[path] = path.stat().st_mtime
            except OSError:
                continue
        return stamps

    def run(self) -> None:
        code = {lid: self.snapshot(spec.code_dir) for lid, spec in self.stack.functions.items()}
        shared = [self.snapshot(root) for root in self.shared_roots]
        while not self._stop_event.wait(self.interval_s):
            now_shared = [self.snapshot(root) for root in self.shared_roots]
            if now_shared != shared:
                shared = now_shared
                log.warning("shared code changed: every function will cold-start on its next invocation")
                for runner in self.stack.runners.values():
                    runner.recycle()
            for lid, spec in self.stack.functions.items():
                now = self.snapshot(spec.code_dir)
                if now != code[lid]:
                    code[lid] = now
                    log.warning("%s code changed: it will cold-start on its next invocation", lid)
                    self.stack.runners[lid].recycle()


def package_dirs() -> list[Path]:
    """Directories of the packages every worker imports: this one and the shared package."""
    dirs = [Path(__file__).resolve().parent]
    spec = importlib.util.find_spec("socialcare")
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(Path(location).resolve() for location in spec.submodule_search_locations)
    return dirs


def import_roots() -> list[str]:
    """Directories a worker needs on sys.path: the parents of those packages, then PYTHONPATH."""
    roots = [str(directory.parent) for directory in package_dirs()]
    roots.extend(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    return list(dict.fromkeys(roots))
