"""Where data enters: the ingestion core, with no HTTP in it.

Validates events (`wire`, `events`; PostHog payloads mapped by `posthog`), makes them durable
in the write-ahead log (`wal`) and a writer thread moves them into ClickHouse (`writer`,
`storage`, refused data kept by `dead_letter`); `telemetry` holds the Prometheus counters,
`settings` the one configuration object. The HTTP routes over it live in `northstar.web`.

May import: the standard library, its third-party dependencies (msgspec, clickhouse-connect,
prometheus-client) and `sdk` (the wire vocabulary); never `experiments`, `northstar` or a
web framework. Light: importing the package loads no submodule.
"""
