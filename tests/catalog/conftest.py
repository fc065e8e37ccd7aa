"""A small pipeline with personal data: people -> people_by_city, with access roles."""

from __future__ import annotations

import json

import pytest

SPEC = """
name: people
steps:
  - {name: people, notebook: notebooks/people.ipynb}
  - {name: summary, notebook: notebooks/summary.ipynb, needs: [people]}
datasets:
  raw.people:
    description: Customers who signed up, one row per person.
    owner: growth
    tags: [customers, core]
    freshness: {column: signed_up, warn_after: 2d, error_after: 30d}
    columns:
      id: {description: Surrogate key, checks: [not_null]}
      full_name: {description: Name as typed, tags: [pii]}
      email: {description: Contact address}
      score: {checks: [{range: {min: 0, max: 50, severity: warn}}]}
  marts.people_by_city:
    description: Sign-ups per city.
    owner: analytics
    freshness: {error_after: 0s}
access:
  roles:
    analyst: {read: ["*"], unmask: []}
    steward: {read: ["*"], unmask: ["raw.*"], review: ["*"]}
  members: {alice: [steward], bob: [analyst]}
"""

PEOPLE = """
import datetime as dt
import polars as pl
import dataops_nb as dn
step = dn.step()
today = dt.date.today()
frame = pl.DataFrame({
    "id": [1, 2, 3, 4, 5, 6],
    "full_name": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"],
    "email": ["ada@example.com", "alan@example.org", "grace@navy.mil", "edsger@tue.nl", "barbara@mit.edu", None],
    "phone": ["+1 415-555-0100", "(212) 555-0199", "+44 20 7946 0958", "+31 20 555 0123", "617.555.0142", "+1 650 555 0177"],
    "card": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117", "4012888888881881", "4222222222222"],
    "ssn": ["123-45-6789", "219-09-9999", "078-05-1120", "457-55-5462", "536-22-1234", None],
    "city": ["London", "London", "New York", "Eindhoven", "Boston", "Stanford"],
    "code": ["12345678", "87654321", "11112222", "99990000", "31415926", "27182818"],
    "score": [10, 20, None, 40, 55 + bump, 20],
    "signed_up": [today - dt.timedelta(days=d) for d in (5, 4, 3, 2, 1, 0)],
})
step.publish("raw.people", frame)
"""

SUMMARY = """
import dataops_nb as dn
step = dn.step()
step.publish("marts.people_by_city", "select city, count(*) as people from raw.people group by city order by city")
"""


@pytest.fixture
def people(project):
    project.notebook("people", "bump = 0", PEOPLE)
    project.notebook("summary", "x = 1", SUMMARY)
    project.spec(SPEC)
    return project


def cli_json(project, *args, user=None, check=0):
    env = {"DATAOPS_USER": user} if user else None
    return json.loads(project.cli(*args, "--json", env=env, check=check).stdout)
