"""Notebook widgets (ipywidgets): thin views over `dataops_nb.service`."""
