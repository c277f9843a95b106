"""Load a function's ``app.py`` in this process (tests, scripts).

Every function's module is named ``app`` (its own Lambda), so each is loaded under a unique
name; the local stack instead gives each function its own worker process (worker.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def load_app(function_dir: str) -> ModuleType:
    """``functions/<function_dir>/app.py`` as a fresh module (its module-level state, such as a
    resolver or batch processor, is new on every call, like a cold start)."""
    name = f"socialcare_fn_{function_dir}"
    spec = importlib.util.spec_from_file_location(name, FUNCTIONS / function_dir / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no handler module at functions/{function_dir}/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
