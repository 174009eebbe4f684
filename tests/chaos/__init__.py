"""The chaos suite: a DAG of cards worked by several dispatchers while workers and
dispatchers are killed and frozen; invariants are sampled during the run and checked at
the end. `python -m tests.chaos --help` runs it standalone at any size."""
