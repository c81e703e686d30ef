"""Persons: one identity across the anonymous and identified ids of a customer.

The collector derives, from identify/alias messages stored in ClickHouse, which distinct ids
belong to one person; every analysis (insights, experiments) counts persons through the SQL
expressions of `collector.persons.resolution`, never through its own idea of a unit.
"""
