"""uploadbench's harness: scenarios, mock provider, workers, statistics and reports.

The system under test lives in :mod:`uploader`, which never imports this package.
"""

__all__: list[str] = []
