"""The catalog: what each dataset is, what is in it, where it came from, who may see it.

One concept per module: `profile` (per-column statistics of a version), `pii`
(classifying and masking personal data), `model` (the spec's datasets in the ledger),
`search` (FTS5 over the ledger), `pages` (the dataset page). Nothing here is imported
by `dataops_nb` at start-up; the step kernel imports only `profile` and `pii`.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CatalogPackage(types.ModuleType):
    """Importing `dataops_nb.catalog.<module>` rebinds `dataops_nb.catalog` from the
    `dn.catalog()` widget function to this package; calling the package keeps
    `dn.catalog(...)` working either way (it builds the same widget)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from ..widgets.catalog import catalog as build

        return build(*args, **kwargs)


sys.modules[__name__].__class__ = _CatalogPackage
