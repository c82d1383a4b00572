"""The library's entry point: ``convert()`` one recording to an output file (the local runner).

The parts live by concern: graph.py (nodes, keys, demand-driven execution), plan.py (a recording's
nodes and the one stage order), local.py (the local runner's scheduling), outputs.py (the final write).
"""

from .runners.local import Result, convert

__all__ = ["Result", "convert"]
