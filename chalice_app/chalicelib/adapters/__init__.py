"""Small adapters between the domain and AWS; each takes its boto3 client."""

from botocore.config import Config

# How every adapter's client is built. Standard retry mode: exponential backoff with jitter,
# throttling retried, validation not.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3)
