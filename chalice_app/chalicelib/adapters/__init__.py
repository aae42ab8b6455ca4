"""Small adapters between the domain and AWS; each takes its boto3 client."""
