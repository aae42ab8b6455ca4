"""The serverless half of the order pipeline: domain logic, AWS adapters and handler glue."""
