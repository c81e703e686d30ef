"""Load tests (locust) and benchmarks that print figures against a same-run baseline."""
