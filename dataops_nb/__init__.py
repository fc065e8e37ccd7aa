"""dataops-nb: parameterized Jupyter notebooks as pipeline steps over DuckDB.

In a step notebook::

    import dataops_nb as dn
    step = dn.step()
    flights = step.sql("select * from raw.flights").pl()
    step.publish("staging.flights", flights)
"""

from __future__ import annotations

from .errors import DataOpsError
from .runtime import StepContext, read, step

__all__ = ["DataOpsError", "StepContext", "read", "step", "__version__"]
__version__ = "0.1.0"
