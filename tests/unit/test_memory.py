"""nbprod.memory: what a build keeps is left out of garbage collection, and handed back."""

from __future__ import annotations

import gc

from nbprod import memory


def test_loading_collects_nothing_in_the_block_and_freezes_what_it_made():
    kept = []
    try:
        with memory.loading():
            assert not gc.isenabled()
            collections = gc.get_stats()[0]["collections"]
            kept.extend([index] for index in range(100_000))  # would set off young collections
            assert gc.get_stats()[0]["collections"] == collections
        assert gc.isenabled() and gc.get_freeze_count() >= len(kept)
    finally:
        memory.thaw()
    assert gc.get_freeze_count() == 0


def test_loading_leaves_a_collector_that_was_off_off():
    gc.disable()
    try:
        with memory.loading():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        memory.thaw()


class Node:
    """An object that can be in a cycle and be watched with a weak reference."""


def test_what_loading_froze_is_collected_again_after_thaw():
    import weakref

    with memory.loading():
        node = Node()
        node.itself = node  # only the cyclic collector frees it
        watched = weakref.ref(node)
    del node
    gc.collect()
    assert watched() is not None  # frozen: left alone
    memory.thaw()
    gc.collect()
    assert watched() is None
