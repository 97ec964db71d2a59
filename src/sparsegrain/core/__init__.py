"""Plumbing every stage shares: the registry, table writers, timing, lowering and input coercion.

Nothing here knows about patterns, formats, kernels or machines; every stage may import it.
"""
