"""Secrets: resolved in the kernel, never written to a notebook, log, ledger row or error."""

from __future__ import annotations

SECRET = "s3cr3t-Value-7f2a91"


def scan(root) -> list[str]:
    return [
        str(path) for path in root.rglob("*")
        if path.is_file() and SECRET.encode() in path.read_bytes()
    ]


def test_secret_value_never_stored(project):
    project.notebook(
        "fetch",
        "api_token = None\nrows = 3",
        """
        import dataops_nb as dn
        step = dn.step()
        token = step.secret("api_token")
        print("using token", token)
        assert token == "%s"
        step.publish("raw.calls", f"select range as i, '{len(token)}' as token_length from range({rows})")
        """ % SECRET,
        """
        raise ValueError("bad token " + token)
        """,
    )
    project.spec(
        """
        name: secrets
        steps:
          - name: fetch
            notebook: notebooks/fetch.ipynb
            params: {api_token: {secret: API_TOKEN}}
        """
    )
    result = project.cli("run", env={"API_TOKEN": SECRET})
    assert result.returncode == 1  # the second cell raises with the token in its message
    assert SECRET not in result.stdout + result.stderr
    assert "bad token ********" in result.stderr
    store = project.root / ".dataops"
    assert (store / "ledger.db").is_file()
    assert scan(store) == []
    executed = next(store.glob("runs/*/fetch.ipynb")).read_text()
    assert "using token ********" in executed
    rows = project.ledger_rows("select params, error from runs join step_runs using (run_id)")
    assert '"secret": "API_TOKEN"' in rows[0][0]


def test_missing_secret_is_refused_before_running(project):
    project.notebook("fetch", "api_token = None", "print(1)")
    project.spec(
        """
        name: secrets
        steps:
          - {name: fetch, notebook: notebooks/fetch.ipynb, params: {api_token: {secret: API_TOKEN_UNSET}}}
        """
    )
    result = project.cli("run", env={"API_TOKEN_UNSET": ""})
    assert result.returncode == 2
    assert "set the environment variable API_TOKEN_UNSET" in result.stderr
    assert not (project.root / ".dataops" / "runs").exists()


def test_secret_cannot_be_passed_as_plain_parameter(project):
    project.notebook("fetch", "api_token = None", "print(1)")
    project.spec(
        """
        name: secrets
        steps:
          - {name: fetch, notebook: notebooks/fetch.ipynb, params: {api_token: {secret: API_TOKEN}}}
        """
    )
    result = project.cli("run", "-p", "api_token=plain", env={"API_TOKEN": SECRET})
    assert result.returncode == 2 and "is a secret" in result.stderr
