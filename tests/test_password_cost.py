"""The service hashes passwords at a cost fit for production (the other tests hash at Argon2's lowest cost)."""

from __future__ import annotations

from advance_trial.service import accounts, admin  # imported at collection: the cheap hasher is patched in


def test_the_service_hashes_passwords_with_argon2id_at_least_at_owasps_minimum_cost(monkeypatch):
    monkeypatch.undo()  # tests/conftest.py's cheap hashing aside: the service's own hasher
    from argon2 import Type

    assert admin._hasher is accounts._hasher
    hasher = accounts._hasher()
    # OWASP's password storage cheat sheet: Argon2id with at least 19 MiB of memory and 2 iterations
    assert hasher.type is Type.ID and hasher.memory_cost >= 19 * 1024 and hasher.time_cost >= 2
    stored = hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$") and accounts._password_matches(stored, "correct horse battery staple")
    assert not accounts._password_matches(stored, "correct horse battery stapler")


def test_the_other_tests_hash_at_argon2s_lowest_cost():
    """tests/conftest.py puts the cheap hasher in place once the service is imported, in both its modules."""
    assert accounts._hasher().time_cost == 1 and admin._hasher is accounts._hasher
