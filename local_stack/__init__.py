"""The embedded local AWS: moto on 127.0.0.1, the resources, and Lambda-like event sources."""
