"""Writes docs/cli-reference.md from the click command tree, so the reference matches `--help`.

    python -m ecpctl.cli.docgen > docs/cli-reference.md
"""

from __future__ import annotations

import click

from ecpctl.cli.main import cli

HEADER = """# CLI reference

Generated from `ecpctl --help` by `python -m ecpctl.cli.docgen`; a test fails when it is stale.
Every command takes the global options before the command name, for example
`ecpctl --workspace production plan examples/`.

Exit codes: 0 success; 1 an error (one line naming the file and line, or the resource); 2 from
`plan --detailed-exitcode` when there are changes; 3 from `status` when a service is not ready;
130 when an apply was interrupted.
"""


def _walk(cmd: click.Command, path: list[str]):
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=" ".join(path))
        for name in sorted(cmd.list_commands(ctx)):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, path + [name])


def render() -> str:
    out = [HEADER]
    for path, cmd in _walk(cli, ["ecpctl"]):
        # the same settings as a real invocation: click caches the help option per command
        ctx = click.Context(cmd, info_name=" ".join(path), terminal_width=100,
                            max_content_width=100, help_option_names=["-h", "--help"])
        out.append(f"\n## {' '.join(path)}\n")
        out.append("```text")
        out.append(cmd.get_help(ctx).rstrip())
        out.append("```")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    click.echo(render(), nl=False)
