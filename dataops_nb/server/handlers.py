"""Thin handlers over `dataops_nb.service`: one base class maps errors to HTTP codes.

Every handler is authenticated (APIHandler + `@tornado.web.authenticated`); POSTs are
XSRF-protected by jupyter_server. Each request names its project with `?project=DIR`
relative to the server root (default: the root itself); a directory outside the root is
refused with 400.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from pydantic import BaseModel, ValidationError

from .. import service
from ..errors import ConflictError, DataOpsError, NotFoundError
from ..project import Project
from ..quality.review import AccessDeniedError
from . import models

Model = TypeVar("Model", bound=BaseModel)
NAME = r"[A-Za-z0-9_.\-@#]+"


class BadRequestError(DataOpsError):
    """Bad input at the HTTP boundary (a path outside the root, a malformed body)."""


class DataOpsHandler(APIHandler):
    """The base of every /dataops/ handler: project resolution, models, error mapping."""

    @property
    def server_root(self) -> Path:
        return Path(self.settings["server_root_dir"]).expanduser().resolve()

    def project_dir(self) -> Path:
        relative = self.get_query_argument("project", "") or ""
        root = self.server_root
        target = (root / relative).resolve()
        if not target.is_relative_to(root):
            raise BadRequestError(f"Project path '{relative}' is outside the server's root directory.")
        return target

    def open_project(self) -> Project:
        target = self.project_dir()
        try:
            project = service.open_project(target)
        except DataOpsError as exc:
            raise NotFoundError("project (dataops.yaml)", str(target)) from exc
        if not project.root.resolve().is_relative_to(self.server_root):
            raise NotFoundError("project (dataops.yaml) under the server root", str(target))
        return project

    def body(self, model: type[Model]) -> Model:
        try:
            data = json.loads(self.request.body or b"{}")
            return model.model_validate(data)
        except (ValueError, ValidationError) as exc:
            first = exc.errors()[0] if isinstance(exc, ValidationError) else None
            where = ".".join(str(p) for p in first["loc"]) if first and first["loc"] else "body"
            message = first["msg"] if first else "the body is not JSON"
            raise BadRequestError(f"Bad request: {where}: {message}.") from exc

    async def answer(self, call: Callable[[Project], Any], *, status: int = 200) -> None:
        """Run `call(project)` off the event loop and write its result as JSON."""
        try:
            result = await asyncio.to_thread(lambda: call(self.open_project()))
        except Exception as exc:  # noqa: BLE001 - the one place errors become HTTP codes
            code = _status_of(exc)
            if code == 500:
                self.log.exception("dataops-nb: %s %s failed", self.request.method, self.request.path)
            self.set_status(code)
            self.finish({"error": type(exc).__name__, "message": str(exc) if code != 500 else "Internal error; see the server log."})
            return
        self.set_status(status)
        self.finish(result.model_dump_json() if isinstance(result, BaseModel) else json.dumps(result, default=str))


def _status_of(exc: Exception) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, AccessDeniedError):
        return 403
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, DataOpsError):
        return 400
    return 500


class SettingsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def settings(project: Project) -> models.Settings:
            return models.Settings(**service.versions(), project=_relative(project.root, self.server_root),
                                   project_name=project.spec.name)

        await self.answer(settings)


class PipelineHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda project: models.Pipeline(**service.pipeline(project)))


class RunsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        limit = int(self.get_query_argument("limit", "50"))
        await self.answer(lambda project: models.Listing(items=service.runs(project, limit)))

    @tornado.web.authenticated
    async def post(self) -> None:
        def start(project: Project) -> models.RunStarted:
            request = self.body(models.StartRun)
            if request.mode != "all" and not request.step:
                raise BadRequestError(f"Bad request: mode '{request.mode}' needs a step.")
            run_id = service.start_run(
                project,
                only=[request.step] if request.mode == "only" and request.step else [],
                from_step=request.step if request.mode == "from" else None,
                force=request.force,
                env=request.env,
            )
            return models.RunStarted(run_id=run_id)

        await self.answer(start, status=201)


class RunHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self.answer(lambda project: models.Record(**service.show_run(project, run_id)))


class CatalogHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        query = self.get_query_argument("q", "")
        await self.answer(lambda project: models.Listing(items=service.catalog_search(project, query)))


class DatasetHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, dataset: str) -> None:
        await self.answer(lambda project: models.Record(**service.catalog_show(project, dataset)))


class LineageHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, dataset: str) -> None:
        depth = int(self.get_query_argument("depth", "3"))
        await self.answer(lambda project: models.Record(**service.lineage(project, dataset, depth=depth)))


class ReviewsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda project: models.Record(**service.review_items(project)))

    @tornado.web.authenticated
    async def post(self) -> None:
        def decide(project: Project) -> models.Record:
            request = self.body(models.Decision)
            return models.Record(**service.review_decide(project, request.target, request.decision, request.reason))

        await self.answer(decide, status=201)


class TemplatesHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda project: models.Listing(items=service.templates(project)))


class StepsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        def create(project: Project) -> models.Record:
            request = self.body(models.NewStep)
            notebook = service.new_step(project, request.name, request.template, needs=request.needs)
            return models.Record(step=request.name, notebook=_relative(Path(notebook), self.server_root))

        await self.answer(create, status=201)


def _relative(path: Path, root: Path) -> str:
    relative = path.resolve().relative_to(root).as_posix()
    return "" if relative == "." else relative


ROUTES: list[tuple[str, type[DataOpsHandler]]] = [
    ("settings", SettingsHandler),
    ("pipeline", PipelineHandler),
    ("runs", RunsHandler),
    (rf"runs/({NAME})", RunHandler),
    ("catalog", CatalogHandler),
    (rf"catalog/({NAME})", DatasetHandler),
    (rf"lineage/({NAME})", LineageHandler),
    ("reviews", ReviewsHandler),
    ("templates", TemplatesHandler),
    ("steps", StepsHandler),
]


def setup_handlers(serverapp: Any) -> None:
    web_app = serverapp.web_app
    base = url_path_join(web_app.settings["base_url"], "dataops")
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler) for path, handler in ROUTES])
    manager = serverapp.contents_manager
    if hasattr(manager, "allow_hidden") and not manager.allow_hidden:
        # the executed notebooks live under .dataops/runs/; the Runs panel opens them
        manager.allow_hidden = True
