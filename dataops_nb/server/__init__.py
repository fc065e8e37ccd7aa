"""The Jupyter server half of the JupyterLab extension: a REST API under /dataops/."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "dataops_nb.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "dataops-nb-lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .handlers import setup_handlers

    setup_handlers(serverapp)
    serverapp.log.info("dataops-nb: REST API at /dataops/ (project root: %s)", serverapp.root_dir)
