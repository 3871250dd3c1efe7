"""The HTTP API of README: HTTP API: usage, quotas, an event collector, Prometheus metrics, OpenAPI."""
