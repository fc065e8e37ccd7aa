"""Data quality: checks declared in the spec or a notebook, compiled to one DuckDB scan."""
