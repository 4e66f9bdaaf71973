"""`ecpctl graph`: the resource dependency graph as Graphviz dot, Mermaid or JSON. Reads no state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.options import given, json_option, path_argument
from ecpctl.cli.output import COMMAND_META


@dataclass(frozen=True)
class GraphArgs:
    path: Path
    fmt: str = "dot"
    tenant: str | None = None
    as_json: bool = False

    @classmethod
    def parse(cls, ctx: click.Context) -> GraphArgs:
        p = ctx.params
        if p["as_json"] and given(ctx, "fmt"):
            raise click.UsageError("--format and --json exclude each other: --json prints the "
                                   "graph as JSON")
        return cls(path=p["path"], fmt=p["fmt"], tenant=p["tenant"], as_json=p["as_json"])


@click.command("graph")
@path_argument
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid"]), default="dot",
              show_default=True)
@click.option("--tenant", default=None, metavar="ID", help="Only this tenant's resources.")
@json_option("the graph (nodes with their dependencies, and edges)")
@click.pass_context
def graph_cmd(ctx: click.Context, **_: object) -> None:
    """Print the resource dependency graph (Graphviz dot or Mermaid)."""
    ctx.meta[COMMAND_META] = "graph"
    click.echo(run_graph(GraphArgs.parse(ctx)), nl=False)


def run_graph(args: GraphArgs) -> str:
    from ecpctl.engine import desired_state
    from ecpctl.graph import to_dot, to_mermaid
    desired = desired_state(args.path)
    g = desired.graph
    if args.tenant is not None:
        desired.config.tenant(args.tenant)    # raises, with a did-you-mean, when unknown
        g = g.subgraph([n for n in g.nodes if n.split(".")[1] == args.tenant]).copy()
    if args.as_json:
        from ecpctl.views.envelope import dumps, envelope
        from ecpctl.views.graph_json import graph_body
        return dumps(envelope("graph", graph_body(g, desired.resources, args.tenant)))
    return to_dot(g) if args.fmt == "dot" else to_mermaid(g)
