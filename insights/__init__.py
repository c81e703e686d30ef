"""Product analytics over persons: the shared query layer (date range, zone, filters,
breakdown), trends, funnels, retention, cohorts, paths, lifecycle, surveys, the event catalog
and saved insights. Domain only: no HTTP.

Import the modules themselves (`insights.query`, `insights.funnels`, ...): this file loads nothing.
"""
