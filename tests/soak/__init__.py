"""The chaos soak: `filebridge watch` against the sandbox under kills, faults and outages.

* `harness` runs it: sandbox, orders arriving, the watcher as a subprocess killed and
  restarted, faults, token revocation, inbox outages, then a clean drain.
* `erp` is the simulated ERP that reads the outbox and drops status/tracking files.
* `checker` judges the end state from the shop, its call log and the folders only.
* `run_soak` is the command line for the long version; `tests/test_soak.py` the short one.
"""
