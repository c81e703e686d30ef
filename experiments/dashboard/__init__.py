"""The HTML dashboard: experiment list and results pages with server-rendered SVG charts."""

from experiments.dashboard.routes import dashboard_routes

__all__ = ["dashboard_routes"]
