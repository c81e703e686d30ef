"""Product analytics over persons: funnels and retention (and, beside them, the shared query
layer and trends). Domain only: no HTTP.

Import the modules themselves (`insights.funnels`, `insights.retention`, ...): this file loads nothing.
"""
