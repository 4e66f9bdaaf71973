"""Views: turn engine results (plans, apply outcomes) into text for people or JSON for machines.

The engine never prints; the CLI picks a view.
"""
