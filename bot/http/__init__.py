"""The HTTP API of SPEC section 9: usage, quotas, an event collector, Prometheus metrics, OpenAPI."""
