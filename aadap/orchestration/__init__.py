"""The only Prefect-aware package: task options, hooks, the approval gate, artifacts."""
