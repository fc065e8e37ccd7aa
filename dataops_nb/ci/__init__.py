"""Slim CI: build only what a commit changes, in an environment of its own, and show how the data changes.

`slim` runs it (compare every step's fingerprint with the base environment's, run the differing
steps and their dependents, defer every other read to the base), `changes` says which steps differ
and why, `cells` finds the changed code cells of a notebook, `summary` writes the Markdown a pull
request shows and `git` asks the repository. `merge` decides what a merge to the main branch does:
promote the tested environment when the merged tree is the one CI built, else run normally.
"""
