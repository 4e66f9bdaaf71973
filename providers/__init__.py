"""Providers: one package per external system, all behind the protocol in `providers.protocol`.

The engine only ever talks to `Provider`; each provider translates its client's errors at its edge.
"""
