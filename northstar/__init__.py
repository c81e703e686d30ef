"""The edge of Northstar: the web edge (`web`: routes, authentication, body limits, the
exception → response table, the dashboard, the composed server in `web.app`), the command
line (`cli`, `python -m northstar`), the demo, the admin API client, logging and the runner.

May import every package of ours; none of them imports this one. The only package that
imports starlette/uvicorn. Light: importing the package loads no submodule.
"""
