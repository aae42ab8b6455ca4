"""Operating a running pipeline, on AWS or on `make run`'s local stack (dead-letter redrive)."""
