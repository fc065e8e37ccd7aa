"""Send alerts to the channels the spec's rules pick, through apprise, never in the way.

Rules: a rule matches an alert by event (a recovery goes where its breach went) and, when it
lists environments, by environment; `to: owners` means the channels of each affected
dataset's owner (`owners.<name>.notify`). A channel's URL is read from the environment
variable it names, only when sending: it holds tokens, so it is never logged, stored or put
in a message. One attempt may take the channel's `timeout`; a failed attempt is retried
once; what happened (sent, failed, variable unset) is recorded in the ledger and the run's
log. Nothing here raises: a notification never fails what it reports on.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import DataOpsError
from ..secrets import Redactor, credential_envs, secret_envs
from .alert import Alert

log = logging.getLogger(__name__)
RETRY_DELAY_S = 0.5
CLOSE_WAIT_S = 60.0  # the longest a run's end waits for its queued notifications


@dataclass(frozen=True)
class Delivery:
    event: str
    channel: str
    status: str  # sent, failed, unset
    attempts: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"alert": self.event, "channel": self.channel, "status": self.status, "attempts": self.attempts,
                "error": self.error}


def routes(spec: Any, alert: Alert, owner_of: Callable[[str], str | None]) -> list[str]:
    """The channels `alert` goes to, in rule order, each once."""
    found: dict[str, None] = {}
    for rule in spec.notify.rules:
        if alert.event not in rule.on:
            continue
        if rule.environments is not None and alert.environment not in rule.environments:
            continue
        for target in rule.targets:
            if target != "owners":
                found[target] = None
                continue
            for dataset in alert.affected:
                owner = spec.owners.get(owner_of(dataset) or "")
                for channel in owner.notify if owner else ():
                    found[channel] = None
    return list(found)


def attempt(url: str, title: str, body: str, timeout: float, *, kind: str = "info") -> str | None:
    """Send once (`kind`: info, success, warning, failure); None when apprise reports success, else why
    not (without the URL)."""
    import apprise

    box = apprise.Apprise()
    if not box.add(url):
        return "apprise does not recognise the channel's URL"
    outcome: list[bool] = []
    worker = threading.Thread(target=lambda: outcome.append(bool(box.notify(title=title, body=body, notify_type=kind))),
                              name="notify-send", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return f"no answer within {timeout:g} s"
    return None if outcome and outcome[0] else "the service refused the message or could not be reached"


class Notifier:
    """Alerts of one pipeline and environment: `notify` queues (sent on a thread), `deliver` sends now."""

    def __init__(self, project: Any, *, environment: str | None, ledger: Callable[[], Any] | None = None,
                 log_event: Callable[..., Any] | None = None) -> None:
        self.project = project
        self.spec = project.spec
        self.environment = environment
        self._ledger = ledger
        self._log_event = log_event
        self.redactor = Redactor.from_env([*secret_envs(self.spec), *sorted(credential_envs(self.spec))])
        self.deliveries: list[Delivery] = []
        self.warnings: list[str] = []
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._owners: dict[str, str | None] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.spec.notify.rules)

    def link(self, run_id: str | None) -> str | None:
        if run_id is None:
            return None
        template = self.spec.notify.report_url
        if template:
            return template.replace("{run_id}", run_id)
        return (self.project.store.root / "reports" / f"{run_id}.html").as_uri()

    # --- queued (a run) ----------------------------------------------------------------

    def notify(self, alert: Alert) -> None:
        if not self.enabled:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="notifier", daemon=True)
            self._thread.start()
        self._queue.put(alert)

    def _drain(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            self.deliver(alert)

    def close(self) -> list[Delivery]:
        """Send what is queued, waiting for it at most `CLOSE_WAIT_S` (the run has ended: what is
        still unsent then is given up, and said so in the log)."""
        if self._thread is not None:
            waiting = self._queue.qsize() + 1
            slowest = max((c.timeout for c in self.spec.notify.channels.values()), default=1.0)
            self._queue.put(None)
            self._thread.join(min(waiting * (2 * slowest + RETRY_DELAY_S) + 1, CLOSE_WAIT_S))
            if self._thread.is_alive():
                left = self._queue.qsize()
                self.warnings.append(f"{left + 1} notification(s) still unsent when the run ended were given up")
                log.warning("dataops-nb: notifications still unsent after %s s were given up", CLOSE_WAIT_S)
            self._thread = None
        return list(self.deliveries)

    # --- now --------------------------------------------------------------------------

    def deliver(self, alert: Alert, channels: Iterable[str] | None = None) -> list[Delivery]:
        """Send `alert` to its channels (or to `channels`) and record each outcome; never raises."""
        try:
            alert = alert.masked(self.redactor)
            targets = list(channels) if channels is not None else routes(self.spec, alert, self._owner_of)
            made = [self._send(alert, channel) for channel in targets]
        except Exception as exc:  # noqa: BLE001 - a notification never fails what it reports on
            log.warning("dataops-nb: a notification could not be prepared: %s", type(exc).__name__)
            return []
        self.deliveries.extend(made)
        return made

    def _send(self, alert: Alert, channel: str) -> Delivery:
        config = self.spec.notify.channels[channel]
        url = os.environ.get(config.url_env, "").strip()
        title, body = self.redactor.text(alert.title()), self.redactor.text(alert.body())
        if not url:
            delivery = Delivery(alert.event, channel, "unset", 0,
                                f"the environment variable {config.url_env} is not set")
            self.warnings.append(f"notification '{alert.event}' to channel '{channel}' not sent: {delivery.error}")
        else:
            error, attempts = None, 0
            for attempts in (1, 2):
                try:
                    error = attempt(url, title, body, config.timeout, kind=alert.kind)
                except Exception as exc:  # noqa: BLE001 - apprise failing: its text may hold the URL, so only its type
                    error = f"apprise failed ({type(exc).__name__})"
                if error is None:
                    break
                if attempts == 1:
                    time.sleep(RETRY_DELAY_S)
            error = None if error is None else self.redactor.text(error.replace(url, "<url>"))
            delivery = Delivery(alert.event, channel, "sent" if error is None else "failed", attempts, error)
        self._record(alert, delivery, title)
        return delivery

    def _record(self, alert: Alert, delivery: Delivery, title: str) -> None:
        if delivery.status == "failed":
            log.warning("dataops-nb: notification %s to %s %s: %s", alert.event, delivery.channel, delivery.status,
                        delivery.error)
        if self._log_event is not None:
            try:
                self._log_event("notification", **delivery.as_dict(), subject=alert.subject)
            except Exception:  # noqa: BLE001 - the run's log is a file: a full disk must not fail the run
                log.warning("dataops-nb: could not log a notification in run.log")
        if self._ledger is not None:
            try:
                self._ledger().monitor.record_notification(
                    event=alert.event, channel=delivery.channel, environment=alert.environment or "",
                    title=title, status=delivery.status, attempts=delivery.attempts, run_id=alert.run_id,
                    subject=alert.subject, error=delivery.error,
                )
            except Exception:  # noqa: BLE001 - nor a ledger that cannot take the row
                log.warning("dataops-nb: could not record a notification in the ledger")

    def _owner_of(self, dataset: str) -> str | None:
        if dataset not in self._owners:
            meta = self.spec.datasets.get(dataset)
            owner = meta.owner if meta else None
            if owner is None and self._ledger is not None:
                try:
                    entry = self._ledger().catalog.dataset(dataset)
                    owner = entry["owner"] if entry else None
                except Exception:  # noqa: BLE001 - no owner known: the rule reaches nobody for it
                    owner = None
            self._owners[dataset] = owner
        return self._owners[dataset]


class NotificationError(DataOpsError):
    """A test message that did not go out: its channel's variable unset (bad input), or the send failed."""

    def __init__(self, channel: str, status: str, reason: str | None) -> None:
        super().__init__(f"The test message to channel '{channel}' was not sent: {reason}.")
        self.channel = channel
        self.status = status
        self.exit_code = 2 if status == "unset" else 1


def send_test(project: Any, channel: str, *, environment: str | None, ledger: Callable[[], Any]) -> Delivery:
    """`dataops-nb notify test CHANNEL`: one test message, recorded like every other."""
    from ..errors import NotFoundError

    channels = project.spec.notify.channels
    if channel not in channels:
        raise NotFoundError("notification channel", channel, list(channels))
    alert = Alert("test", project.spec.name, environment=environment,
                  detail=f"A test message from `dataops-nb notify test {channel}`: this channel receives alerts.")
    made = Notifier(project, environment=environment, ledger=ledger).deliver(alert, channels=[channel])
    if not made:
        raise NotificationError(channel, "failed", "it could not be prepared")
    if made[0].status != "sent":
        raise NotificationError(channel, made[0].status, made[0].error)
    return made[0]
