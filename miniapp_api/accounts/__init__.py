"""The individual account: balance by funding source, paid years, status, benefit, and the ledger."""
