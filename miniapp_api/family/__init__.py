"""Family links: supporters (children, spouses, others) who act for a parent (POLICY.md R9, R14)."""
