"""What each dataset is, what is in it, where it came from, who may see it (the catalog's model).

One concept per module: `profile` (per-column statistics of a version), `pii`
(classifying and masking personal data), `model` (the spec's datasets in the ledger),
`search` (FTS5 over the ledger), `pages` (the dataset page), `lineage` (the graph and
column lineage), `retention` (versions, time travel, gc). Nothing here is imported by
`dataops_nb` at start-up; the step kernel imports only `profile` and `pii`.
"""
