"""Payments: the tax bureau's signed callbacks, exactly-once crediting, the active query and the statement."""
