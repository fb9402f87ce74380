"""Benefits: the yearly interest (R10), the monthly benefits and the inheritance (R11, R12)."""
