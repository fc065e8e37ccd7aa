"""Thin handlers over `dataops_nb.service`: one base class maps errors to HTTP codes.

Every handler is authenticated (APIHandler + `@tornado.web.authenticated`); POSTs are
XSRF-protected by jupyter_server. Each request names its project with `?project=DIR`
relative to the server root (default: the root itself); a directory outside the root is
refused with 400, and a project whose store or ledger resolves outside it with 403.

Who asks is Jupyter's authenticated user (`current_user.username`; behind JupyterHub, the
hub's user), passed explicitly to every service call that decides on access: the server
never reads DATAOPS_USER or any other variable a caller could set. Every input is a
bounded pydantic model: oversized values are 400 with one sentence.
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
from ..errors import (
    AccessDeniedError,
    ConflictError,
    DataOpsError,
    LedgerUnreadableError,
    NotFoundError,
    SpecError,
)
from ..project import Project
from . import models
from .projects import PROJECTS

Model = TypeVar("Model", bound=BaseModel)
NAME = r"[A-Za-z0-9_.\-@#]+"
ORIGIN = "server"


class BadRequestError(DataOpsError):
    """Bad input at the HTTP boundary (a path outside the root, a malformed body)."""


class DataOpsHandler(APIHandler):
    """The base of every /dataops/ handler: identity, project resolution, models, error mapping."""

    @property
    def server_root(self) -> Path:
        return Path(self.settings["server_root_dir"]).expanduser().resolve()

    @property
    def user(self) -> str:
        """The authenticated user's name (the only identity the server decides with)."""
        current = self.current_user
        name = getattr(current, "username", None) if current is not None else None
        if not name:  # @authenticated ran first: an authenticated request always has a user
            raise tornado.web.HTTPError(403)
        return str(name)

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        # a name in the URL is bounded like every other input (once the caller is known)
        longest = 2 * models.NAME_MAX + 1
        if self.current_user is not None and any(len(arg) > longest for arg in self.path_args):
            self.set_status(400)
            self.finish({"error": "BadRequestError",
                         "message": f"Bad request: a name in the path is longer than {longest} characters."})

    def project_dir(self) -> Path:
        relative = self.query(models.ProjectQuery).project
        root = self.server_root
        target = (root / relative).resolve()
        if not target.is_relative_to(root):
            raise BadRequestError(f"Project path '{relative}' is outside the server's root directory.")
        return target

    def open_project(self) -> Project:
        target = self.project_dir()
        try:
            project = PROJECTS.get(target)
        except SpecError as exc:  # a spec being edited says where it is wrong, not that there is no project
            file = Path(exc.file).resolve()
            where = _relative(file, self.server_root) if file.is_relative_to(self.server_root) else file.name
            raise SpecError(exc.problem, file=where, line=exc.line, field=exc.field) from exc
        except DataOpsError as exc:
            raise NotFoundError("project (dataops.yaml)", str(target)) from exc
        if not project.root.resolve().is_relative_to(self.server_root):
            raise NotFoundError("project (dataops.yaml) under the server root", str(target))
        service.confine(project, self.server_root)
        return project

    def body(self, model: type[Model]) -> Model:
        try:
            data = json.loads(self.request.body or b"{}")
            return model.model_validate(data)
        except (ValueError, ValidationError) as exc:
            raise _bad_request(exc, "body", "the body is not JSON") from exc

    def query(self, model: type[Model]) -> Model:
        """The query parameters that `model` declares, validated (call it inside `answer`)."""
        arguments = self.request.arguments
        given = {name: self.get_query_argument(name) for name in model.model_fields if name in arguments}
        try:
            return model.model_validate(given)
        except ValidationError as exc:
            raise _bad_request(exc, "query", "bad query parameters") from exc

    async def answer(self, call: Callable[[Project], Any], *, status: int = 200,
                     render: Callable[[Any], None] | None = None) -> None:
        """Run `call(project)` off the event loop and write its result as JSON (or with `render`)."""
        opened: list[Project] = []

        def work() -> Any:
            opened.append(self.open_project())
            return call(opened[0])

        try:
            result = await asyncio.to_thread(work)
        except Exception as exc:
            code = _status_of(exc)
            if code == 500:
                self.log.exception("dataops-nb: %s %s failed", self.request.method, self.request.path)
            if isinstance(exc, AccessDeniedError) and opened:
                await asyncio.to_thread(self._record_denial, opened[0], exc)
            self.set_status(code)
            answer = {"error": type(exc).__name__, "message": str(exc) if code != 500 else "Internal error; see the server log."}
            if code == 409:  # what it conflicts with, as data (the datasets a promotion refused)
                answer["fields"] = _fields_of(exc)
            self.finish(answer)
            return
        self.set_status(status)
        if render is not None:
            render(result)
            return
        self.finish(result.model_dump_json() if isinstance(result, BaseModel) else json.dumps(result, default=str))


    def _record_denial(self, project: Project, exc: AccessDeniedError) -> None:
        try:
            service.record_denial(project, str(exc), user=self.user, origin=ORIGIN,
                                  target=f"{self.request.method} {self.request.path}")
        except DataOpsError:
            self.log.warning("dataops-nb: could not record an access denial in the audit log")


def _bad_request(exc: ValueError, where: str, fallback: str) -> BadRequestError:
    """One sentence naming the first bad field of a body or query and what is wrong with it."""
    first = exc.errors()[0] if isinstance(exc, ValidationError) else None
    if first and first["loc"]:
        where = ".".join(str(p) for p in first["loc"])
    return BadRequestError(f"Bad request: {where}: {first['msg'] if first else fallback}.")


def _fields_of(exc: Exception) -> dict[str, Any]:
    """An error's data that JSON can carry (a conflict's run id, a refusal's datasets and why)."""
    fields = {}
    for name, value in vars(exc).items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        if name != "message":
            fields[name] = value
    return fields


def _status_of(exc: Exception) -> int:
    if isinstance(exc, LedgerUnreadableError):
        return 503
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
        await self.answer(lambda project: models.Pipeline(**service.pipeline(
            project, self.query(models.EnvQuery).env, user=self.user)))


class RunsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def runs(project: Project) -> models.RunList:
            query = self.query(models.RunsQuery)
            return models.RunList(items=service.runs(project, query.limit, user=self.user, env=query.env),
                                  environment=project.environment(query.env) if query.env else None)

        await self.answer(runs)

    @tornado.web.authenticated
    async def post(self) -> None:
        def start(project: Project) -> models.RunStarted:
            request = self.body(models.StartRun)
            if request.mode != "all" and not (request.step or request.steps):
                raise BadRequestError(f"Bad request: mode '{request.mode}' needs a step.")
            if request.steps and request.mode != "only":
                raise BadRequestError(f"Bad request: steps: several steps go with mode 'only', not '{request.mode}'.")
            run_id = service.start_run(
                project,
                only=[*([request.step] if request.step else []), *request.steps] if request.mode == "only" else [],
                from_step=request.step if request.mode == "from" else None,
                force=request.force,
                env=request.env,
                params=request.params,
                user=self.user,
                origin=ORIGIN,
            )
            return models.RunStarted(run_id=run_id)

        await self.answer(start, status=201)


class RunHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self.answer(lambda project: models.Run(**service.show_run(project, run_id, user=self.user)))


class LiveRunHandler(DataOpsHandler):
    """GET: a run as it goes: each running step's current cell, elapsed time and output tail."""

    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self.answer(lambda project: models.LiveRun(**service.live_run(project, run_id, user=self.user)))


class RunDiffHandler(DataOpsHandler):
    """GET runs/A/diff/B: the data diff of every dataset both runs published, PII masked for the reader."""

    @tornado.web.authenticated
    async def get(self, a: str, b: str) -> None:
        def compare(project: Project) -> models.RunDiff:
            result = service.run_diff(project, a, b, user=self.user)
            datasets = [models.RunDatasetDiff(**{k: v for k, v in d.items() if k != "schema"}, schema_changes=d.get("schema"))
                        for d in result["datasets"]]
            return models.RunDiff(**{**result, "datasets": datasets})

        await self.answer(compare)


class DataflowHandler(DataOpsHandler):
    """GET dataflow: each step's datasets (what it reads and publishes), for the pipeline view's DAG."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda project: models.Dataflow(**service.dataflow(project, self.query(models.EnvQuery).env)))


class CancelRunHandler(DataOpsHandler):
    """POST: stop a run (the sidebar's Cancel): answers once the request is made, not when it has ended."""

    @tornado.web.authenticated
    async def post(self, run_id: str) -> None:
        def cancel(project: Project) -> models.CancelRequested:
            return models.CancelRequested(**service.cancel_run(project, run_id, user=self.user, wait=False))

        await self.answer(cancel, status=202)


class ExecutedNotebookHandler(DataOpsHandler):
    """A step's executed notebook as a read-only Jupyter contents model (the Runs panel's drive)."""

    @tornado.web.authenticated
    async def get(self, run_id: str, step: str) -> None:
        def notebook(project: Project) -> models.NotebookContents:
            return models.NotebookContents(**service.executed_notebook(project, run_id, step, user=self.user,
                                                                       within=self.server_root))

        await self.answer(notebook)


class CatalogHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def search(project: Project) -> models.HitList:
            return models.HitList(items=service.catalog_search(project, self.query(models.CatalogQuery).q))

        await self.answer(search)


class DatasetHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, dataset: str) -> None:
        def page(project: Project) -> models.DatasetPage:
            query = self.query(models.DatasetQuery)
            return models.DatasetPage(**service.catalog_show(project, dataset, user=self.user, rows=query.rows, env=query.env))

        await self.answer(page)


class LineageHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, dataset: str) -> None:
        def lineage(project: Project) -> models.Lineage:
            query = self.query(models.LineageQuery)
            return models.Lineage(**service.lineage(project, dataset, depth=query.depth, env=query.env))

        await self.answer(lineage)


class ReviewsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def reviews(project: Project) -> models.Reviews:
            items = service.review_items(project, user=self.user, env=self.query(models.EnvQuery).env)
            return models.Reviews(**items, open_failures=len(items["failures"]))

        await self.answer(reviews)

    @tornado.web.authenticated
    async def post(self) -> None:
        def decide(project: Project) -> models.Decided:
            request = self.body(models.Decision)
            return models.Decided(**service.review_decide(
                project, request.target, request.decision, request.reason, user=self.user, origin=ORIGIN,
                check=request.check, until=request.until, for_runs=request.for_runs, condition=request.condition))

        await self.answer(decide, status=201)


class DatasetDiffHandler(DataOpsHandler):
    """GET: the dataset as `?env=` reads it against `?against=` (default: that environment's base)."""

    @tornado.web.authenticated
    async def get(self, dataset: str) -> None:
        def diff(project: Project) -> models.DatasetDiff:
            query = self.query(models.DiffQuery)
            return models.DatasetDiff(**service.dataset_diff(project, dataset, query.env, query.against,
                                                              user=self.user))

        await self.answer(diff)


class EnvironmentsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda project: models.EnvironmentList(
            items=service.env_list(project), default=project.spec.default_environment))


class EnvironmentHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.answer(lambda project: models.EnvironmentDetail(**service.env_show(project, name)))


class PromotionHandler(DataOpsHandler):
    """What promoting an environment would change (the plan), and whether the user may apply it."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.answer(lambda project: models.Promotion(**service.promotion_plan(
            project, name, self.query(models.PromotionQuery).to, user=self.user)))


class PromoteHandler(DataOpsHandler):
    """POST: apply a promotion as `dataops-nb promote --yes` does, audited as the server's user.

    Without `access.roles.<role>.promote` for the target: 403. Versions the target must not get
    (stale inputs without `force`, quarantined, failed): 409 naming them, nothing changed."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        def promote(project: Project) -> models.Promotion:
            request = self.body(models.Promote)
            return models.Promotion(**service.promote(project, name, request.to, force=request.force,
                                                      user=self.user, origin=ORIGIN))

        await self.answer(promote, status=201)


class TemplatesHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda project: models.TemplateList(items=service.templates(project)))


class StepsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        def create(project: Project) -> models.StepCreated:
            request = self.body(models.NewStep)
            notebook = service.new_step(project, request.name, request.template, needs=request.needs,
                                        publishes=request.publishes, params=request.params)
            return models.StepCreated(step=request.name, notebook=_relative(Path(notebook), self.server_root),
                                 publishes=service.published_by(Path(notebook)))

        await self.answer(create, status=201)


class MetricsHandler(DataOpsHandler):
    """The project's Prometheus metrics (text format), for a scraper holding a Jupyter token."""

    @tornado.web.authenticated
    async def get(self) -> None:
        def metrics(project: Project) -> tuple[bytes, str]:
            return service.metrics(project, env=self.query(models.EnvQuery).env)

        await self.answer(metrics, render=self._exposition)

    def _exposition(self, result: tuple[bytes, str]) -> None:
        text, content_type = result
        self.finish(text, set_content_type=content_type)


def _relative(path: Path, root: Path) -> str:
    relative = path.resolve().relative_to(root).as_posix()
    return "" if relative == "." else relative


ROUTES: list[tuple[str, type[DataOpsHandler]]] = [
    ("settings", SettingsHandler),
    ("pipeline", PipelineHandler),
    ("runs", RunsHandler),
    (rf"runs/({NAME})", RunHandler),
    (rf"runs/({NAME})/notebooks/({NAME})", ExecutedNotebookHandler),
    (rf"runs/({NAME})/cancel", CancelRunHandler),
    (rf"runs/({NAME})/live", LiveRunHandler),
    (rf"runs/({NAME})/diff/({NAME})", RunDiffHandler),
    ("dataflow", DataflowHandler),
    ("catalog", CatalogHandler),
    (rf"catalog/({NAME})", DatasetHandler),
    (rf"catalog/({NAME})/diff", DatasetDiffHandler),
    (rf"lineage/({NAME})", LineageHandler),
    ("reviews", ReviewsHandler),
    ("environments", EnvironmentsHandler),
    (rf"environments/({NAME})", EnvironmentHandler),
    (rf"environments/({NAME})/promotion", PromotionHandler),
    (rf"environments/({NAME})/promote", PromoteHandler),
    ("templates", TemplatesHandler),
    ("steps", StepsHandler),
    ("metrics", MetricsHandler),
]


def setup_handlers(serverapp: Any) -> None:
    web_app = serverapp.web_app
    base = url_path_join(web_app.settings["base_url"], "dataops")
    # executed notebooks under .dataops/runs/ are served read-only by ExecutedNotebookHandler;
    # the contents manager keeps hiding .dataops/ and .env
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler) for path, handler in ROUTES])
