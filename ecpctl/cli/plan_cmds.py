"""Commands: filled in by their owner."""

import click


def register(cli: click.Group) -> None:
    pass
