"""Runs and their steps: one row per run, one per step run."""

from __future__ import annotations

import json
from typing import Any

from .db import Database, Row, column_list, placeholders
from .leases import LeaseRepository, alive, this_host
from .records import RunRecord, RunStatus, StepRecord, StepStatus, now, record_of

DIED = "the runner process died"


class RunRepository:
    """Runs and step runs. A `running` run whose runner is gone reads as `interrupted`: no live
    lease covers it (its runner stopped renewing, on whichever machine), or its process on this
    host is dead."""

    def __init__(self, db: Database, *, host: str | None = None) -> None:
        self.db = db
        self.host = host or this_host()  # a run's pid means something only on its host
        self.leases = LeaseRepository(db)

    def open(self, run_id: str, **fields: Any) -> None:
        fields = {**fields, "params": json.dumps(fields.get("params", {}), default=str)}
        if "packages" in fields:
            fields["packages"] = json.dumps(fields["packages"], sort_keys=True)
        fields["selection"] = json.dumps(fields.get("selection", []))
        columns = ["run_id", "status", "started_at", *fields]
        values = [run_id, RunStatus.RUNNING, now(), *fields.values()]
        self.db.execute(f"INSERT INTO runs ({column_list(columns)}) VALUES ({placeholders(len(values))})", values)

    def end(self, run_id: str, status: str, message: str | None = None) -> None:
        self.db.execute(
            "UPDATE runs SET status = ?, ended_at = ?, message = ? WHERE run_id = ?",
            (status, now(), message, run_id),
        )

    def reap_dead(self, host: str | None = None) -> list[str]:
        """Runs left `running` by a runner that is gone (see the class) become `interrupted`."""
        rows = self.db.query("SELECT run_id, status, pid, host FROM runs WHERE status = 'running'")
        leased = self.leases.leased_runs() if rows else set()
        dead = [row["run_id"] for row in rows if self._dead(row, leased, host or self.host)]
        for run_id in dead:
            self.interrupt(run_id, DIED)
        return dead

    def in_flight(self) -> list[RunRecord]:
        """Runs still `running`, newest first, leaving out those whose runner is gone
        (reading never reaps them: the next command that writes does)."""
        rows = self.db.query("SELECT * FROM runs WHERE status = 'running' ORDER BY run_id DESC")
        leased = self.leases.leased_runs() if rows else set()
        return [self._run(row, leased) for row in rows if not self._dead(row, leased)]

    def interrupt(self, run_id: str, message: str) -> None:
        """A run that stopped without ending: it and its unfinished steps become `interrupted`."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = ?, message = ? "
                "WHERE run_id = ? AND status = 'running'",
                (now(), message, run_id),
            )
            self.db.execute(
                "UPDATE step_runs SET status = 'interrupted' WHERE run_id = ? AND status IN ('running', 'pending')",
                (run_id,),
            )

    def set_step(self, run_id: str, step: str, **fields: Any) -> None:
        """Insert or update one step run's row: one statement (one round trip to a server)."""
        values = {"status": fields.get("status", StepStatus.PENDING), **fields}
        columns = column_list(["run_id", "step", *values])  # refuses anything but column names
        change = ("DO UPDATE SET " + ", ".join(f"{key} = excluded.{key}" for key in fields)) if fields else "DO NOTHING"
        self.db.execute(
            f"INSERT INTO step_runs ({columns}) VALUES ({placeholders(len(values) + 2)}) "
            f"ON CONFLICT (run_id, step) {change}",
            (run_id, step, *values.values()),
        )

    def recent(self, limit: int | None = None, *, environment: str | None = None,
               default: str = "prod") -> list[RunRecord]:
        """The latest runs, newest first (of `environment` only when given; a run of none ran in `default`)."""
        where, args = ("WHERE coalesce(environment, ?) = ? ", [default, environment]) if environment else ("", [])
        sql = f"SELECT * FROM runs {where}ORDER BY run_id DESC" + (" LIMIT ?" if limit else "")
        rows = self.db.query(sql, (*args, limit) if limit else tuple(args))
        leased = self._leased(rows)
        return [self._run(row, leased) for row in rows]

    def get(self, run_id: str) -> RunRecord | None:
        rows = self.db.query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return self._run(rows[0], self._leased(rows)) if rows else None

    def resumed_by(self, run_id: str) -> list[str]:
        """The runs that resumed `run_id`, oldest first."""
        rows = self.db.query("SELECT run_id FROM runs WHERE resumed_from = ? ORDER BY run_id", (run_id,))
        return [row["run_id"] for row in rows]

    def steps(self, run_id: str, *, run: RunRecord | None = None) -> list[StepRecord]:
        """The run's step runs (`run`: its record, when the caller has just read it)."""
        run = run if run is not None and run.run_id == run_id else self.get(run_id)
        died = run is not None and run.message == DIED and run.status is RunStatus.INTERRUPTED
        rows = self.db.query("SELECT * FROM step_runs WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [self._step(row, died=died) for row in rows]

    def every_step(self) -> list[StepRecord]:
        """Every step run of every run."""
        return [self._step(row) for row in self.db.query("SELECT * FROM step_runs")]

    def step(self, run_id: str, step: str) -> StepRecord | None:
        rows = self.db.query("SELECT * FROM step_runs WHERE run_id = ? AND step = ?", (run_id, step))
        return self._step(rows[0]) if rows else None

    def last_step_runs(self, environments: list[str] | None = None, *, default: str = "prod") -> dict[str, StepRecord]:
        """The latest executed (not skipped) run of each step.

        With `environments` (an environment, then its bases): of the first of them that ran the
        step, where a run of no environment ran in `default`, and the step run behind a version an
        environment points at (promoted from another) counts as that environment's."""
        if environments is None:
            rows = self.db.query(
                "SELECT s.* FROM step_runs s WHERE s.status NOT IN ('skipped', 'pending', 'fresh') ORDER BY s.run_id"
            )
            return {row["step"]: self._step(row) for row in rows}
        found = self._latest_in(environments, default, ("skipped", "pending", "fresh"))
        return {step: record for step, (_env, record) in found.items()}

    def durations(self, per_step: int = 20) -> dict[str, list[Row]]:
        """Each step's last `per_step` executed runs (oldest first): run id, status, duration."""
        rows = self.db.query(
            "SELECT run_id, step, status, duration_s FROM step_runs WHERE duration_s IS NOT NULL "
            "AND status IN ('success', 'failed', 'timed_out') ORDER BY run_id DESC LIMIT ?",
            (per_step * 200,),
        )
        found: dict[str, list[Row]] = {}
        for row in rows:
            kept = found.setdefault(row["step"], [])
            if len(kept) < per_step:
                kept.append(row)
        return {step: kept[::-1] for step, kept in found.items()}

    def last_outcomes(self) -> dict[str, StepRecord]:
        """The latest outcome of each step: run or skipped (`pending` and `fresh` ran nothing)."""
        rows = self.db.query(
            "SELECT s.* FROM step_runs s WHERE s.status NOT IN ('pending', 'fresh') ORDER BY s.run_id"
        )
        return {row["step"]: self._step(row) for row in rows}

    def last_outcomes_in(self, environments: list[str], *, default: str = "prod") -> dict[str, tuple[str, StepRecord]]:
        """step -> (the environment, its latest outcome there): of the first of `environments`
        (an environment, then its bases) that ran or skipped the step, counted as `last_step_runs` does."""
        return self._latest_in(environments, default, ("pending", "fresh"))

    def _latest_in(self, environments: list[str], default: str,
                   ignored: tuple[str, ...]) -> dict[str, tuple[str, StepRecord]]:
        marks = placeholders(len(environments))
        rows = self.db.query(
            "SELECT s.*, coalesce(r.environment, ?) AS run_environment FROM step_runs s "
            f"JOIN runs r ON r.run_id = s.run_id WHERE s.status NOT IN ({placeholders(len(ignored))}) "
            f"AND coalesce(r.environment, ?) IN ({marks}) "
            "UNION SELECT s.*, p.environment AS run_environment FROM current_versions p "
            "JOIN dataset_versions v ON v.version_id = p.version_id "
            f"JOIN step_runs s ON s.run_id = v.run_id AND s.step = v.step WHERE p.environment IN ({marks})",
            (default, *ignored, default, *environments, *environments),
        )
        found: dict[str, tuple[int, str, str, StepRecord]] = {}
        for row in rows:
            rank, run_id = environments.index(row["run_environment"]), row["run_id"]
            held = found.get(row["step"])
            if held is None or rank < held[0] or (rank == held[0] and run_id > held[1]):
                found[row["step"]] = (rank, run_id, row["run_environment"], self._step(row))
        return {step: (env, record) for step, (_rank, _run, env, record) in found.items()}

    def started_by(self, pid: int, *, after: str) -> str | None:
        """The run a runner process of this host opened after run `after`, once it has."""
        rows = self.db.query(
            "SELECT run_id FROM runs WHERE pid = ? AND host = ? AND run_id > ? ORDER BY run_id LIMIT 1",
            (pid, self.host, after),
        )
        return str(rows[0]["run_id"]) if rows else None

    def latest_id(self) -> str | None:
        rows = self.db.query("SELECT max(run_id) AS run_id FROM runs")
        return str(rows[0]["run_id"]) if rows and rows[0]["run_id"] else None

    def _leased(self, rows: list[Row]) -> set[str]:
        """The live leases' runs, asked only when a row is `running`."""
        return self.leases.leased_runs() if any(row["status"] == RunStatus.RUNNING for row in rows) else set()

    def _dead(self, row: Row, leased: set[str], host: str | None = None) -> bool:
        if row["status"] != RunStatus.RUNNING:
            return False
        if row["run_id"] not in leased:
            return True
        return row["host"] == (host or self.host) and bool(row["pid"]) and not alive(row["pid"])

    def _run(self, row: Row, leased: set[str]) -> RunRecord:
        """A run; one whose runner is gone reads as `interrupted` (the next write records it)."""
        overrides: dict[str, Any] = {
            "params": json.loads(row["params"] or "{}"), "selection": json.loads(row["selection"] or "[]"),
        }
        if "packages" in row.keys():  # noqa: SIM118 (a schema before v15 has no such column)
            overrides["packages"] = json.loads(row["packages"] or "{}")
        if self._dead(row, leased):
            overrides.update(status=RunStatus.INTERRUPTED, message=DIED)
        overrides["status"] = RunStatus(overrides.get("status", row["status"]))
        return record_of(RunRecord, row, **overrides)  # type: ignore[no-any-return]

    def _step(self, row: Row, *, died: bool = False) -> StepRecord:
        status = StepStatus(row["status"])
        if died and status in (StepStatus.RUNNING, StepStatus.PENDING):
            status = StepStatus.INTERRUPTED
        return record_of(StepRecord, row, status=status)  # type: ignore[no-any-return]
