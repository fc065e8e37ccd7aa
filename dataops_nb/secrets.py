"""Secret values: which variables hold them, whether a value can be masked, and masking
every form a value takes in notebooks, manifests, errors, events and published data.

Rules: a value is read from the environment only where it is used (the runner, a
worker, the step's own kernel); a kernel starts without any variable the spec names as
a secret and receives only its step's own; everything that leaves a step is masked for
every secret of the run, in every encoding listed in `forms`.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from .errors import DataOpsError

MASK = "********"
MIN_LENGTH = 8
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)*$")


class WeakSecretError(DataOpsError):
    """A secret value that masking cannot keep apart from ordinary text."""

    def __init__(self, env: str, reason: str) -> None:
        super().__init__(
            f"The secret in environment variable {env} is {reason}: masking it would hide ordinary "
            f"text in every notebook, so use a real credential of at least {MIN_LENGTH} characters."
        )
        self.env = env
        self.reason = reason


# --- which variables ---------------------------------------------------------------


def secret_envs(spec: Any) -> list[str]:
    """Every variable a `{secret: ENV}` parameter of any step names."""
    return sorted({env for step in spec.steps for env in step.secrets().values()})


def credential_envs(spec: Any) -> set[str]:
    """Other variables the spec names as holding credentials (lineage token, ledger URL, alerts)."""
    found = {spec.lineage.api_key_env} if spec.lineage.api_key_env else set()
    ledger = getattr(spec, "ledger", None)
    if getattr(ledger, "url_env", None):
        found.add(ledger.url_env)
    channels = getattr(getattr(spec, "notify", None), "channels", None) or {}
    found.update(c.url_env for c in channels.values() if getattr(c, "url_env", None))
    return found


def hidden_envs(spec: Any) -> frozenset[str]:
    """What no kernel inherits: secrets and credentials the spec names, except `secrets.pass_env`."""
    passed = set(spec.secrets.pass_env)
    return frozenset((set(secret_envs(spec)) | credential_envs(spec)) - passed)


def kernel_env(base: Mapping[str, str], hidden: Iterable[str], **extra: str) -> dict[str, str]:
    """`base` without the hidden variables, plus `extra` (what a kernel or its fork server starts with)."""
    hidden = set(hidden)
    return {**{k: v for k, v in base.items() if k not in hidden}, **extra}


# --- whether a value can be masked -------------------------------------------------


def weakness(value: str) -> str | None:
    """Why `value` cannot serve as a secret (too short, a number, a common word), or None."""
    if len(value) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    if _NUMBER.match(value.strip()):
        return "a plain number"
    if len(value) <= 64:
        from zxcvbn.matching import omnimatch

        # one dictionary word, keyboard walk, sequence or repeat spanning the whole value
        if any(m["i"] == 0 and m["j"] == len(value) - 1 for m in omnimatch(value)):
            return "a common word"
    return None


def require_strong(envs: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
    """Raise WeakSecretError for the first set variable whose value cannot be masked."""
    environ = os.environ if environ is None else environ
    for env in envs:
        value = environ.get(env)
        if value:
            reason = weakness(value)
            if reason:
                raise WeakSecretError(env, reason)


def values_of(envs: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The values behind `envs` that can be masked, longest first."""
    environ = os.environ if environ is None else environ
    values = {environ[env] for env in envs if environ.get(env)}
    return sorted((v for v in values if weakness(v) is None), key=len, reverse=True)


# --- every form a value takes -------------------------------------------------------


def forms(value: str) -> set[str]:
    """The strings `value` becomes when printed, displayed, serialized or sent on.

    Raw; JSON-escaped (ASCII or not); Python repr-escaped with either quote; HTML-escaped
    (named or numeric entities) of each of those; URL-encoded; and base64 of every run of
    whole 3-byte groups the value can fall into inside a longer encoded text.
    """
    escaped = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    for shown in (repr(value), ascii(value)):
        body = escaped_body = shown[1:-1]
        escaped.add(body)
        # the same escapes inside the other kind of quotes (str.format, f-strings and
        # other languages pick differently)
        if shown[0] == "'":
            escaped_body = body.replace("\\'", "'").replace('"', '\\"')
        else:
            escaped_body = body.replace("'", "\\'")
        escaped.add(escaped_body)
    found = set(escaped)
    for text in escaped:
        for entity in (html.escape(text), html.escape(text, quote=False)):
            found.add(entity)
            found.add(entity.replace("&#x27;", "&#39;").replace("&quot;", "&#34;"))
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value)):
        found.add(encoded)
        found.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded))
    raw = value.encode("utf-8")
    for offset in range(3):
        whole = raw[offset:][: 3 * ((len(raw) - offset) // 3)]
        if len(whole) >= 6:
            found.add(base64.b64encode(whole).decode())
            found.add(base64.urlsafe_b64encode(whole).decode())
    return {f for f in found if len(f) >= 6}


class Redactor:
    """Masks every form of a set of secret values in text, JSON-like data and notebooks."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = sorted(set(values), key=len, reverse=True)

    @classmethod
    def from_env(cls, envs: Iterable[str], environ: Mapping[str, str] | None = None) -> Redactor:
        return cls(values_of(envs, environ))

    def __bool__(self) -> bool:
        return bool(self.values)

    @cached_property
    def forms(self) -> list[str]:
        return sorted({f for value in self.values for f in forms(value)}, key=len, reverse=True)

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile("|".join(re.escape(f) for f in self.forms)) if self.forms else None

    def text(self, text: str) -> str:
        if self._pattern is None:
            return text
        text = self._pattern.sub(MASK, text)
        if "\x1b" in text:  # a coloured traceback: a value split by colour codes
            text = "".join(self._uncoloured(line) for line in text.splitlines(keepends=True))
        return text

    def _uncoloured(self, line: str) -> str:
        plain = _ANSI.sub("", line)
        assert self._pattern is not None
        return self._pattern.sub(MASK, plain) if self._pattern.search(plain) else line

    def found_in(self, text: str) -> bool:
        return self._pattern is not None and (
            self._pattern.search(text) is not None or self._pattern.search(_ANSI.sub("", text)) is not None
        )

    def data(self, data: Any) -> Any:
        """`data` (JSON-like) with every string masked, keys included."""
        if not self.values:
            return data
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list):
            return [self.data(item) for item in data]
        if isinstance(data, dict):
            return {self.text(key) if isinstance(key, str) else key: self.data(item) for key, item in data.items()}
        return data

    def notebook(self, nb: dict[str, Any]) -> dict[str, Any]:
        """A notebook (outputs, tracebacks, widget state, metadata) with every secret masked.

        Consecutive stream outputs are joined first: a value printed in two writes is one text.
        """
        if not self.values:
            return nb
        for cell in nb.get("cells", []):
            outputs = cell.get("outputs")
            if outputs:
                cell["outputs"] = _joined_streams(outputs)
        return self.data(nb)


def _joined_streams(outputs: list[Any]) -> list[Any]:
    joined: list[Any] = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            output.get("output_type") == "stream" and previous is not None
            and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")
        ):
            previous["text"] = _text(previous.get("text")) + _text(output.get("text"))
            continue
        joined.append(output)
    return joined


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


# --- published data -----------------------------------------------------------------


def mask_parquet(con: Any, path: Any, schema: list[dict[str, str]], redactor: Redactor) -> bool:
    """Rewrite a parquet file with every form of the secrets masked in its text columns.

    True when something was masked. `con` is a DuckDB connection; only VARCHAR columns and
    column names are searched (a secret hidden inside a nested value is not found).
    """
    if not redactor:
        return False
    text_columns = [c["name"] for c in schema if str(c.get("type", "")).upper() == "VARCHAR"]
    renamed = {c["name"]: redactor.text(c["name"]) for c in schema}
    if not text_columns and all(old == new for old, new in renamed.items()):
        return False
    literals = [_literal(form) for form in redactor.forms]
    source = f"read_parquet({_literal(str(path))})"
    if text_columns:
        tests = " OR ".join(
            f"contains({_ident(column)}, {form})" for column in text_columns for form in literals
        )
        hit = con.sql(f"SELECT count(*) FROM {source} WHERE {tests}").fetchall()[0][0]
    else:
        hit = 0
    if not hit and all(old == new for old, new in renamed.items()):
        return False
    selects = []
    for column in (c["name"] for c in schema):
        expr = _ident(column)
        if column in text_columns:
            for form in literals:
                expr = f"replace({expr}, {form}, {_literal(MASK)})"
        selects.append(f"{expr} AS {_ident(renamed[column])}")
    staged = Path(path).with_name(f".{Path(path).stem}.masked.tmp")
    con.sql(f"COPY (SELECT {', '.join(selects)} FROM {source}) TO {_literal(str(staged))} (FORMAT parquet)")
    os.replace(staged, path)
    return True


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
