"""The analysis layer: pure functions from a results document to outcomes.

The console, compare, the gate and the report read these outcomes; none recomputes a
verdict. Nothing here does I/O.
"""
