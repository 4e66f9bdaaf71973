"""Documentation that must stay true: the CLI reference matches `--help` for every command."""

from __future__ import annotations

from pathlib import Path

import click

from ecpctl.cli.docgen import _walk, render
from ecpctl.cli.main import cli

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_cli_reference_matches_help():
    text = (DOCS / "cli-reference.md").read_text()
    assert text == render(), "docs/cli-reference.md is stale: python -m ecpctl.cli.docgen > docs/cli-reference.md"


def test_every_command_and_option_is_documented():
    text = (DOCS / "cli-reference.md").read_text()
    for path, cmd in _walk(cli, ["ecpctl"]):
        assert f"## {' '.join(path)}\n" in text
        for param in cmd.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    assert opt in text, f"{' '.join(path)}: {opt} missing from the CLI reference"


def test_docs_index_links_resolve():
    index = (DOCS / "README.md").read_text()
    import re
    for target in re.findall(r"\]\(([^)#]+)\)", index):
        assert (DOCS / target).exists(), target
