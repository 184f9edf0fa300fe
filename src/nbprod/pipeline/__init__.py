"""The Ploomber DAG: loading it, closing its staleness gaps, and building it with tracking."""
