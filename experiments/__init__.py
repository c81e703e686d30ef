"""Where data is analysed: experiment and metric definitions, assignment rules, the SQL that
computes sufficient statistics in ClickHouse (`queries`), pure statistics (`stats`), results
and decisions (`analysis`, `report`), and what SDKs read of the definitions (`sdk_documents`).

May import: `sdk`, `collector` (storage, wire types), numpy/scipy/msgspec/pyyaml; never
`northstar` or a web framework. `experiments.stats` imports nothing of ours. Light:
importing the package loads no submodule (`import experiments.stats` loads only the stats).
"""
