"""Edges of Northstar: the composed server process, the command line and the demo.

The one place where collector and experiments meet; neither package imports this one.
"""
