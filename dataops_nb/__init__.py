"""dataops-nb: parameterized Jupyter notebooks as pipeline steps over DuckDB.

In a step notebook::

    import dataops_nb as dn
    step = dn.step()
    flights = step.sql("select * from raw.flights").pl()
    step.publish("staging.flights", flights)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DataOpsError

if TYPE_CHECKING:
    from .runtime import StepContext

__all__ = ["DataOpsError", "StepContext", "catalog", "read", "review", "step", "__version__"]
__version__ = "0.1.0"

# The step API imports DuckDB and the spec models; the CLI's fast commands must not pay for it.
_LAZY = {"step": "runtime", "read": "runtime", "StepContext": "runtime"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'dataops_nb' has no attribute {name!r}")


def review(project_dir: str | None = None, dataset: str | None = None):  # type: ignore[no-untyped-def]
    """The quality review widget: failures, failing rows, and accept / waive / quarantine."""
    from .widgets.review import review as build

    return build(project_dir, dataset)


def catalog(project_dir: str | None = None, query: str = ""):  # type: ignore[no-untyped-def]
    """The catalog widget: search as you type, dataset pages, lineage links, code to read a dataset."""
    from .widgets.catalog import catalog as build

    return build(project_dir, query)
