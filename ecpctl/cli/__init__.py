"""The click command line: thin wrappers that call the engine and render its results.

Only this package turns diagnostics into exit codes and printed lines.
"""
