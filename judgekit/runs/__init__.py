"""Making runs: the runner, the run dir, sweeps, importers of recorded runs, probes."""
