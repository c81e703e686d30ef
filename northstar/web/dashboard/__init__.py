"""The HTML dashboard: experiment list and results pages with server-rendered SVG charts.

Pages (`pages`, `charts`) render the results documents of `experiments.report`; `routes`
serves them behind the dashboard session. Imports experiments and `northstar.web` only.
"""
