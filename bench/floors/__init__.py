"""Floors: the least each benchmarked job needs, as bare Flask apps run under the same gunicorn settings."""
