"""Use cases: they open the transactions and record the state transitions."""
