"""Canonical data: the files' schemas (a leaf), reading and validating them, the locked
transactional folder they live in, and durable, atomic writing."""
