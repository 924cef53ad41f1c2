"""`certseal serve` caps glibc's malloc arenas in its own process too (the only worker
when there is one): the memory figures of bench/ depend on it."""

import ctypes

from certseal.cli import limit_malloc_arenas


def test_arena_cap_is_accepted_by_glibc():
    assert ctypes.CDLL("libc.so.6").gnu_get_libc_version()  # Debian: glibc
    assert limit_malloc_arenas(2) is True

