"""Running a pipeline: the DAG, parameters, fingerprints, executors, and the run itself."""
