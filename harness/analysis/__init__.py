"""The analysis layer: pure functions from a results document
(:mod:`harness.results.contract`) to outcomes. The console, compare, the gate and the report
read these outcomes; none recomputes a verdict. Nothing here does I/O.

- :mod:`~harness.analysis.cells`: the one grouping of trials into cells (provider, variant,
  concurrency; file size in a sweep), which trials enter timing and heap statistics, and
  the one stand-in rule;
- :mod:`~harness.analysis.thresholds`: the one threshold evaluator, one outcome per
  threshold with the cell it was decided on;
- :mod:`~harness.analysis.integrity`: data lost (gates) and likely misconfigurations;
- :mod:`~harness.analysis.summary`: the run summary as data (the console renders it);
- :mod:`~harness.analysis.stats`: the statistics and the verdict rule of a check;
- :mod:`~harness.analysis.memory`: heap peak against file size (slope) and the memory row;
- :mod:`~harness.analysis.calibration`: A/A noise, repeats needed and false alarms.
"""
