"""Contributions: the options of the year, orders with Idempotency-Key, and the county's proxy payments (R7)."""
