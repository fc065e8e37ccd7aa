"""Personal data: find it on publish, and mask it wherever rows are shown.

Classification looks at a sample of the string and integer columns of a version and flags
a column when most of its non-null sampled values look like one kind of personal data:
e-mail addresses, phone numbers, payment card numbers (13 to 19 digits that pass the Luhn
check, as text or as integers), national identifiers (US social security numbers) and other
numeric identifiers (text of 9 to 19 digits only, all of one length: account numbers,
national ids and phone numbers written without separators). Integer columns are only
ever card numbers: a column of large integers is more often a timestamp or a key. Its
confidence is the share of sampled values that match.

Masking has one policy and one function. The columns to mask are the union of the
columns tagged `pii` in the spec and those flagged automatically, unless a role of the
current user may unmask the dataset (`access.roles.<role>.unmask` patterns). Without an
`access` section nobody may unmask. `mask_rows` is what previews, failing-row samples,
widgets and JSON output all go through.

PII follows the data. A column of a derived version is PII ("inherited", with the
`dataset.column` it came from) when its column lineage (`lineage.column_lineage` over
the SQL the version was published from) reads a PII column of a version it was made
from. Where the SQL does not settle a column's origin, the column inherits from a
same-named PII input column, or else from every PII column of its inputs: it is masked
rather than guessed safe. A version published from a dataframe has no lineage; its
columns inherit from same-named PII input columns, and the classifier looks at its values.
The runner stores what a version inherited on publish (kind `inherited` in its profile,
so search's `pii:yes` finds it); reads derive it again, so a column tagged upstream after
the publish is masked downstream too.

Failing-row samples of a `sql` check are masked by the lineage of the query's output
columns (`sample_masked`): `select ssn as ref` masks `ref`, and an output column whose
origin the SQL does not settle is withheld whenever the dataset has PII.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..security import MASK
from .pii_values import MIN_VALUE_LENGTH

SAMPLE_ROWS = 1000
MIN_CONFIDENCE = 0.5
MAX_LENGTH = 200

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_CARD = re.compile(r"^\d{4}([ -]?)\d{4,6}\1\d{4,5}(\1\d{1,4})?$|^\d{13,19}$")
_PHONE = re.compile(r"^\+?[\d\s().-]+$")
_DIGITS = re.compile(r"^\d{9,19}$")
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?$|^\d{1,3}(\.\d{1,3}){3}$")

KINDS = ("email", "national_id", "card_number", "numeric_id", "phone")
INHERITED = "inherited"  # the kind of a column that is PII because its source is
INTEGER_TYPES = ("BIGINT", "HUGEINT", "UBIGINT", "UHUGEINT", "INT64", "INT128")
STRING_TYPES = ("VARCHAR", "TEXT", "STRING")


def luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_number(digits: str) -> bool:
    """13 to 19 digits, not all the same, that pass the Luhn check."""
    return 13 <= len(digits) <= 19 and digits.isascii() and digits.isdigit() and len(set(digits)) > 1 \
        and luhn(digits)


def kind_of(value: Any) -> str | None:
    """The kind of personal data one value (text, or an integer) looks like, or None."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)  # a DECIMAL(p, 0) column
    if isinstance(value, int) and not isinstance(value, bool):
        return "card_number" if card_number(str(abs(value))) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_LENGTH:
        return None
    if "@" in text:
        return "email" if _EMAIL.match(text) else None
    if _SSN.match(text):
        return "national_id"
    if _CARD.match(text) and card_number(re.sub(r"[ -]", "", text)):
        return "card_number"
    if _DIGITS.match(text):
        return "numeric_id"
    if _PHONE.match(text) and not _DATE_LIKE.match(text):
        digits = re.sub(r"\D", "", text)
        separated = text.startswith("+") or any(c in text for c in " ()-.")
        if 7 <= len(digits) <= 15 and separated and text.count("(") == text.count(")"):
            return "phone"
    return None


def classify_values(values: Iterable[Any]) -> tuple[str, float] | None:
    """(kind, confidence) for one column's sampled values, or None when it is not PII.

    Numeric identifiers count only when most of them have one length (an identifier
    is written to a fixed width; counts and amounts are not)."""
    texts = [v for v in values if (isinstance(v, str) and v.strip())
             or (isinstance(v, (int, Decimal)) and not isinstance(v, bool))]
    if not texts:
        return None
    found = [(kind_of(text), text) for text in texts]
    kinds = Counter(kind for kind, _ in found)
    kinds.pop(None, None)
    if not kinds:
        return None
    kind, hits = kinds.most_common(1)[0]
    if kind == "numeric_id":
        hits = Counter(len(str(text).strip()) for k, text in found if k == kind).most_common(1)[0][1]
    confidence = round(hits / len(texts), 2)
    return (kind, confidence) if confidence >= MIN_CONFIDENCE else None


def classify(path: Path | str, schema: list[dict[str, str]], con: Any = None, *, rows: int | None = None) -> dict[str, dict[str, Any]]:
    """{column: {"kind", "confidence"}} for the string and integer columns of a parquet file that look like PII."""
    from ..store import scratch

    strings = [c["name"] for c in schema if _classified(c["type"])]
    if not strings:
        return {}
    own = con is None
    con = con or scratch()
    idents = ", ".join('"' + name.replace('"', '""') + '"' for name in strings)
    source = "read_parquet('" + str(path).replace("'", "''") + "')"
    sample = "" if rows is not None and rows <= SAMPLE_ROWS else f" USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (7)"
    try:
        records = con.sql(f"SELECT {idents} FROM {source}{sample}").fetchall()
    finally:
        if own:
            con.close()
    found = {}
    for index, name in enumerate(strings):
        verdict = classify_values(record[index] for record in records)
        if verdict:
            found[name] = {"kind": verdict[0], "confidence": verdict[1]}
    return found


def _classified(kind: str) -> bool:
    kind = kind.upper()
    return kind in STRING_TYPES or kind in INTEGER_TYPES or (kind.startswith("DECIMAL") and kind.replace(" ", "").endswith(",0)"))


def describe_file(path: Path | str, schema: list[dict[str, str]], con: Any = None, *, rows: int | None = None,
                  tagged: Iterable[str] = ()) -> dict[str, Any]:
    """What a publish adds to its manifest entry: the profile (no extremes of the auto-flagged
    PII columns, nor of the `tagged` ones) and the auto-flagged PII."""
    from .profile import profile

    found = classify(path, schema, con, rows=rows)
    return {"profile": without_extremes(profile(path, schema, con), {*found, *tagged}), "pii": found}


def without_extremes(profile: list[dict[str, Any]] | None, columns: Iterable[str]) -> list[dict[str, Any]] | None:
    """`profile` with no min, max or mean kept for `columns`: a PII column's extremes are two of its
    values, and its mean is one when it has one row."""
    personal = set(columns)
    if profile is None or not personal:
        return profile
    return [{**col, "min": None, "max": None, "mean": None} if col.get("name") in personal else col for col in profile]


# --- policy and masking ------------------------------------------------------------------


def may_unmask(spec: Any, user: str, dataset: str) -> bool:
    """A role of `user` has an `unmask` pattern matching `dataset` (never without `access`)."""
    from ..security import may

    return may(spec, user, dataset, "unmask")


def pii_columns(spec: Any, dataset: str, auto: Iterable[str] = ()) -> set[str]:
    """Spec-tagged `pii` columns plus automatically flagged ones."""
    meta = spec.datasets.get(dataset) if spec is not None else None
    return set(meta.pii_columns if meta else ()) | set(auto)


def masked_columns(spec: Any, dataset: str, auto: Iterable[str] = (), user: str | None = None) -> set[str]:
    """The columns of `dataset` that `user` (default: the current user) must not see."""
    from ..security import current_user

    columns = pii_columns(spec, dataset, auto)
    if columns and may_unmask(spec, user or current_user(), dataset):
        return set()
    return columns


def hidden(spec: Any, ledger: Any, dataset: str, version_id: str | None = None, *,
           auto: Iterable[str] | None = None, user: str | None = None) -> set[str]:
    """The masking policy for rows of one dataset version: what `user` may not see.

    `auto` are the columns flagged on publish when the caller has them (a staged
    version's manifest, inherited columns included); otherwise they come from the ledger
    (the version's profile, the dataset's current flags, and what the version inherits).
    """
    if auto is None:
        auto = personal(spec, ledger, dataset, version_id) if ledger is not None else ()
    return masked_columns(spec, dataset, auto, user)


# --- PII along column lineage ----------------------------------------------------------------


def personal(spec: Any, ledger: Any, dataset: str, version_id: str | None = None,
             memo: dict[str, dict[str, list[str]]] | None = None) -> set[str]:
    """Every PII column of a dataset version: spec-tagged, flagged on publish, and inherited
    (kept per ledger handle until the catalog changes: lineage parses SQL)."""
    from .pii_values import kept

    def compute() -> frozenset[str]:
        found = pii_columns(spec, dataset, ledger.auto_pii(dataset, version_id))
        if version_id:
            found |= set(inherited_of(spec, ledger, version_id, memo))
        return frozenset(found)

    return set(kept(spec, ledger, ("personal", dataset, version_id), compute))


def inherited_of(spec: Any, ledger: Any, version_id: str,
                 memo: dict[str, dict[str, list[str]]] | None = None) -> dict[str, list[str]]:
    """{column: ["dataset.column", ...]}: the columns of a recorded version that are PII because
    what they were computed from is."""
    memo = {} if memo is None else memo
    if version_id in memo:
        return memo[version_id]
    memo[version_id] = {}  # a cycle in the records inherits nothing more
    version = ledger.versions.get(version_id)
    if version is None:
        return {}
    memo[version_id] = inherit(spec, ledger, ledger.versions.sql_of(version_id), ledger.inputs_of(version_id),
                               version.schema, memo)
    return memo[version_id]


def inherit(spec: Any, ledger: Any, sql: str | None, inputs: Iterable[str], schema: Iterable[Mapping[str, Any]],
            memo: dict[str, dict[str, list[str]]] | None = None) -> dict[str, list[str]]:
    """{column: ["dataset.column", ...]} for a version of columns `schema` made by `sql` (None:
    from a dataframe) from the versions `inputs`: which of its columns inherit PII, and from where."""
    memo = {} if memo is None else memo
    columns: dict[str, list[str]] = {}  # input dataset -> its columns
    personal_of: dict[str, set[str]] = {}  # input dataset -> its PII columns
    for version_id in inputs:
        source = ledger.versions.get(version_id)
        if source is None:
            continue
        columns.setdefault(source.dataset, []).extend(c["name"] for c in source.schema)
        personal_of.setdefault(source.dataset, set()).update(personal(spec, ledger, source.dataset, version_id, memo))
    every = sorted(f"{ds}.{col}" for ds, cols in personal_of.items() for col in cols)
    if not every:
        return {}
    lowered = {(ds.lower(), col.lower()): f"{ds}.{col}" for ds, cols in personal_of.items() for col in cols}
    lineage: dict[str, list[tuple[str, str]]] | None = None
    if sql:
        from .lineage import column_lineage

        lineage = {name.lower(): found for name, found in column_lineage(sql, columns).items()}
    result: dict[str, list[str]] = {}
    for column in (c["name"] for c in schema):
        sources = None if lineage is None else lineage.get(column.lower())
        if sources is not None:
            hits = sorted({lowered[(ds.lower(), col.lower())] for ds, col in sources
                           if (ds.lower(), col.lower()) in lowered})
        else:
            hits = sorted(name for name in every if name.rsplit(".", 1)[1].lower() == column.lower())
            if not hits and lineage is not None:
                hits = every  # the SQL does not say where it comes from: it may be any of them
        if hits:
            result[column] = hits
    return result


def with_inherited(spec: Any, ledger: Any, pii: Mapping[str, Any] | None, item: Mapping[str, Any],
                   inputs: Iterable[str]) -> dict[str, Any]:
    """A published manifest entry's PII flags plus the columns it inherits (kind `inherited`)."""
    found = dict(pii or {})
    for column, sources in inherit(spec, ledger, item.get("sql"), inputs, item.get("schema") or []).items():
        found.setdefault(column, {"kind": INHERITED, "confidence": 1.0, "from": sources})
    return found


def sample_masked(query: str | None, schema: Iterable[Mapping[str, Any]], personal_columns: Iterable[str],
                  hidden_columns: Iterable[str], output: Iterable[str]) -> set[str]:
    """The output columns of a failing-row sample to mask.

    `query` is a `sql` check's query (`{this}` for the dataset), None for a check whose
    sample is the dataset's own rows (masked by name: `hidden_columns`). A query's output
    column is masked when it is hidden by name, when its lineage reads a PII column
    (`personal_columns`, whoever runs the check: the sample is stored, and a reader's
    masking goes by name), or when its lineage is unknown and the dataset has PII.
    """
    output = list(output)
    hidden_set = set(hidden_columns)
    masked = {name for name in output if name in hidden_set}
    if query is None:
        return masked
    pii = {name.lower() for name in personal_columns}
    if not pii:
        return masked
    from .lineage import column_lineage

    this = "__check.__this"
    lineage = {name.lower(): found for name, found in
               column_lineage(query.replace("{this}", this), {this: [c["name"] for c in schema]}).items()}
    for name in output:
        sources = lineage.get(name.lower())
        if sources is None or any(col.lower() in pii for _, col in sources):
            masked.add(name)
    return masked


def mask_rows(rows: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> list[dict[str, Any]]:
    """`rows` with every non-null value of `columns` replaced by the mask."""
    hidden = set(columns)
    return [
        {name: (MASK if name in hidden and value is not None else value) for name, value in row.items()}
        for row in rows
    ]


def scrubbed_manifest(spec: Any, ledger: Any, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A step's manifest with no min or max left in the profile of any PII column of what it
    published: tagged in the spec, flagged on publish, or inherited along column lineage (a
    kernel knows only the first two)."""
    inputs = [r["version"] for r in manifest.get("read") or [] if isinstance(r, dict) and r.get("version")]
    published = []
    for item in manifest.get("published") or []:
        if isinstance(item, dict) and isinstance(item.get("profile"), list) and isinstance(item.get("dataset"), str):
            pii = with_inherited(spec, ledger, item.get("pii"), item, inputs)
            item = {**item, "profile": without_extremes(item["profile"], pii_columns(spec, item["dataset"], pii))}
        published.append(item)
    return {**manifest, "published": published}


def described(item: Mapping[str, Any], path: Path | str) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """(profile, pii) of a published manifest entry; computed now when the step could not."""
    if isinstance(item.get("profile"), list):
        return item["profile"], dict(item.get("pii") or {})
    try:
        found = describe_file(path, list(item.get("schema") or []), rows=item.get("rows"))
    except Exception:  # noqa: BLE001 - a version without a profile is still a version
        return None, None
    return found["profile"], found["pii"]


# --- PII in free text (error messages) ---------------------------------------------------------

_CANDIDATES = re.compile(
    r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"  # an e-mail address
    r"|(?<![\w.-])\+?\(?\d[\d ().-]{5,}\d(?![\w-])"  # a run of digits: card, id, phone
)
MAX_TEXT = 100_000


def mask_text(text: str, values: Iterable[str] = ()) -> str:
    """`text` with every one of `values` and every match of the classifier masked."""
    for value in sorted({v for v in values if len(v) >= MIN_VALUE_LENGTH}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return _CANDIDATES.sub(lambda m: MASK if kind_of(m.group(0).strip()) else m.group(0), text)


def personal_values(project: Any, versions: Mapping[str, str], text: str,
                    files: Mapping[str, str] | None = None) -> set[str] | None:
    """The values of PII columns of the dataset `versions` ({version id: dataset}) and `files`
    ({parquet file: dataset}, for versions a failed step never staged) that occur in `text`;
    None when a file could not be searched (then nothing can be said). The values of a file's
    column are read once and kept (`pii_values`)."""
    from .pii_values import kept, values_in

    ledger = project.ledger if project.has_ledger() else None
    sources: dict[str, tuple[str, str | None]] = {}  # file -> (dataset, version id)
    for version_id, dataset in sorted(versions.items()):
        path = None if ledger is None else kept(project.spec, ledger, ("path", version_id),
                                                lambda v=version_id: _path_of(ledger, v))
        if path is not None:
            sources[path] = (dataset, version_id)
    for path, dataset in sorted((files or {}).items()):
        sources.setdefault(path, (dataset, None))
    text = text[:MAX_TEXT]
    found: set[str] = set()
    try:
        for path, (dataset, version_id) in sources.items():
            if not Path(path).is_file():
                continue
            wanted = pii_columns(project.spec, dataset) if ledger is None else \
                personal(project.spec, ledger, dataset, version_id)
            if wanted:
                found |= values_in(path, wanted, text)
    except Exception:  # noqa: BLE001 - a file that cannot be searched: the caller withholds the text
        return None
    return found


def _path_of(ledger: Any, version_id: str) -> str | None:
    record = ledger.versions.get(version_id)
    return None if record is None else str(record.path)


def message_for(project: Any, user: str | None, dataset: str, version_id: str | None, text: str | None) -> str | None:
    """A check's message on a dataset version as `user` (default: the current one) may see it:
    whole for who may read and unmask the dataset (or when it has no PII), PII values masked
    for anyone else (a DuckDB error quotes the value it could not convert)."""
    from ..security import current_user, may

    if not text or not project.has_ledger():
        return text
    spec, user = project.spec, user or current_user()
    if may(spec, user, dataset, "read") and (
            may_unmask(spec, user, dataset) or not personal(spec, project.ledger, dataset, version_id)):
        return text
    values = personal_values(project, {version_id: dataset} if version_id else {}, text)
    return WITHHELD if values is None else mask_text(text, values)


WITHHELD = "(withheld: it may show personal data)"
NOBODY = ":nobody"  # the reader of what anyone may read (a run's log): no member of any role


# --- a step's error ----------------------------------------------------------------------------


def may_see_pii(project: Any, user: str | None, run_id: str, step: str) -> bool:
    """Whether `user` may see PII values in what a step showed: they may read every dataset
    behind it and unmask each of them that has PII columns."""
    from ..access import may_read_step, step_record
    from ..security import current_user

    user = user or current_user()
    names, complete, versions, _ = step_record(project, run_id, step)
    if not complete or not may_read_step(project, user, run_id, step):
        return False
    ledger = project.ledger if project.has_ledger() else None
    for name in names:
        ids = [v for v, dataset in versions.items() if dataset == name] or [None]
        has_pii = any(personal(project.spec, ledger, name, v) for v in ids) if ledger else \
            bool(project.spec.datasets.get(name) and project.spec.datasets[name].pii_columns)
        if has_pii and not may_unmask(project.spec, user, name):
            return False
    return True


def step_error(project: Any, user: str | None, run_id: str, step: str, error: str | None) -> str | None:
    """A step's error as `user` may see it: PII values masked unless they may see them."""
    if not error or may_see_pii(project, user, run_id, step):
        return error
    from ..access import step_record

    _, _, versions, files = step_record(project, run_id, step)
    values = personal_values(project, versions, error, files)
    if values is None:
        return WITHHELD
    return mask_text(error, values)


def step_texts(project: Any, run_id: str, step: str, texts: list[str]) -> list[str] | None:
    """`texts` of a step's run (its notebook's sources and outputs) with the PII values of every
    dataset the step used masked, whoever reads them: for a file that travels (the report).
    None when a file could not be searched."""
    from ..access import step_record

    _, _, versions, files = step_record(project, run_id, step)
    overlap = 512  # a value cut by a piece's end is whole in the next piece
    pieces = [text[start:start + MAX_TEXT - overlap] + text[start + MAX_TEXT - overlap:start + MAX_TEXT]
              for text in texts for start in range(0, max(len(text), 1), MAX_TEXT - overlap)]
    found: set[str] = set()
    chunk = ""
    for piece in [*pieces, None]:
        if piece is not None and len(chunk) + len(piece) + 1 <= MAX_TEXT:
            chunk = f"{chunk}\n{piece}" if chunk else piece
            continue
        if chunk:
            values = personal_values(project, versions, chunk, files)
            if values is None:
                return None
            found |= values
        chunk = piece or ""
    return [mask_text(text, found) for text in texts]
