"""The agency registry's change feed applied to the residents table (`registry sync`, INTEGRATIONS.md §3a)."""
