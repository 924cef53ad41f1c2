"""The verifier's one cache: answers come back from it, it stays within its size (least
recently used out first), a computation that raises keeps nothing, racing threads all get
the first value entered, and a context's cache serves only its own trust lists."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from verify.cache import Cache


def test_an_entry_comes_back_and_is_computed_once():
    cache, calls = Cache(), []
    assert cache.cached("k", lambda: calls.append(1) or "v") == "v"
    assert cache.cached("k", lambda: calls.append(1) or "other") == "v"
    assert calls == [1]
    assert cache.cached("none", lambda: None) is None
    assert cache.cached("none", lambda: "not asked") is None  # None is an answer too


def test_bounded_least_recently_used_out_first():
    cache = Cache(maxsize=8)
    for key in range(8):
        cache.put(key, key)
    assert cache.get(0) == 0  # 0 used again: 1 is now the oldest
    cache.put(8, 8)
    assert len(cache) == 8 and cache.get(1) is None and cache.get(0) == 0
    for key in range(100):
        cache.cached(("many", key), lambda key=key: key)
    assert len(cache) == 8 == cache.maxsize
    cache.clear()
    assert len(cache) == 0


def test_a_computation_that_raises_keeps_nothing():
    cache = Cache()

    def failing():
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError):
            cache.cached("k", failing)
    assert len(cache) == 0


def test_racing_threads_get_the_first_value_entered():
    cache = Cache()
    start = threading.Barrier(8)
    got: list[object] = []

    def compute():
        time.sleep(0.02)  # every thread misses before any enters its value
        return object()  # a distinct value per thread

    def run():
        start.wait()
        got.append(cache.cached("k", compute))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8 and all(value is got[0] for value in got)


def test_a_context_keeps_its_cache_for_its_own_trust_lists_only(counter):
    context = counter.context(offline=True)
    context.cached("probe", lambda: "kept")
    later = dataclasses.replace(context, clock=context.clock)
    assert later.cache is context.cache and later.cached("probe", lambda: "new") == "kept"
    other = dataclasses.replace(context, trust_lists=tuple(list(context.trust_lists)))
    assert other.cache is not context.cache  # another tuple: another scope
    assert other.cached("probe", lambda: "new") == "new"


def test_a_context_hands_out_one_facts_object_per_certificate(counter):
    context = counter.context(offline=True)
    seal = next(iter(context.seal_directory._by_kid.values()))
    facts = context.seal_certificate(next(iter(context.seal_directory._by_kid)))
    assert facts.certificate is seal
    assert context.certificate(facts.der) is context.certificate(bytes(facts.der))
    assert context.seal_certificate(b"\x00" * 8) is None
    assert ("seal", b"\x00" * 8) not in {k for k in context.cache._entries}  # none entered


def test_a_stream_size_found_under_a_tight_limit_does_not_serve_a_larger_one(trust_domain,
                                                                            counter):
    """A stream measured against a 1 MB limit is "past 1 MB", not "1 MB": under a 2 MB
    limit the same stream (3 MB) is measured again and refused, in the same cache."""
    import io
    import zlib

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from verify.errors import InputTooLarge
    from verify.inputs import verify_blocking

    writer = IncrementalPdfFileWriter(io.BytesIO(trust_domain.licences["yyzz"].pdf),
                                      strict=False)
    writer.root["/Big"] = writer.add_object(generic.StreamObject(
        {generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
        encoded_data=zlib.compress(b"\0" * (3 * 1024 * 1024), 9)))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    context = counter.context(offline=True)

    def limited(stream_mb: int):
        return dataclasses.replace(context, limits=dataclasses.replace(
            context.limits, max_stream_bytes=stream_mb * 1024 * 1024))

    for stream_mb in (1, 2):
        with pytest.raises(InputTooLarge, match="a stream inflates past"):
            verify_blocking(out.getvalue(), limited(stream_mb))
