"""Product analytics over persons: the shared query layer (date range, zone, filters,
breakdown), trends, the event catalog and saved insights. Domain only: no HTTP.

Import the modules themselves (`insights.query`, `insights.trends`, ...): this file loads nothing.
"""
