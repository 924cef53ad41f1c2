"""Facts kept per certificate object: found again only for the very same object; an equal
certificate read anew gets the same answer worked out again; the table stays bounded."""

from __future__ import annotations

import gc

from verify.kept import ByIdentity


class Thing:
    def __init__(self, value: int) -> None:
        self.value = value


def test_same_object_is_answered_from_the_table_equal_objects_are_worked_out():
    calls: list[int] = []
    kept = ByIdentity(lambda t: calls.append(t.value) or t.value * 2)
    a, b = Thing(1), Thing(1)
    assert kept(a) == 2 and kept(a) == 2
    assert calls == [1]
    assert kept(b) == 2
    assert calls == [1, 1]


def test_an_id_is_never_answered_for_another_object():
    kept = ByIdentity(lambda t: t.value)
    for value in range(2000):  # objects freed and ids reused by the allocator
        thing = Thing(value)
        assert kept(thing) == value
        del thing
        gc.collect(0)


def test_bounded():
    kept = ByIdentity(lambda t: t.value, limit=8)
    things = [Thing(v) for v in range(50)]
    assert [kept(t) for t in things] == list(range(50))
    assert len(kept._held) <= 8
    kept.cache_clear()
    assert not kept._held
