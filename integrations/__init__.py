"""Clients of the external systems (INTEGRATIONS.md) and, in `sandbox/`, local stand-ins for them."""
