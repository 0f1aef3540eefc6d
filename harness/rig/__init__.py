"""The rig: the processes a run stands on, and how the runner drives them.

- :mod:`harness.rig.layout`: the mock's URL layout (the one provider path table).
- :mod:`harness.rig.process`: :class:`~harness.rig.process.ServerProcess`, a helper server
  in its own process that prints its URL when ready.
- :mod:`harness.rig.servers`: the run's mock provider (and a scenario's fault proxy) and the
  control client that resets the mock, installs faults and reads its stats.
- :mod:`harness.rig.workers`: one worker process per trial, fed its spec, killed at the
  deadline, its answer turned into a result or a one-line reason.

What the servers saw is judged elsewhere, by pure functions (:mod:`harness.checks`). This
package imports nothing heavy at its top, so the mock can read the layout from it.
"""
