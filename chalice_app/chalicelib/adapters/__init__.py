"""Small adapters between the domain and AWS; each takes its boto3 client."""

import hashlib

from botocore.config import Config

# How every adapter's client is built. Standard retry mode: exponential backoff with jitter,
# throttling retried, validation not.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3)


def shard(key: str, shards: int) -> int:
    """Which of `shards` items a key's writes go to: stable (a retry writes the same item)
    and spread evenly, whatever the keys look like (the counters, the in-flight index)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % shards
