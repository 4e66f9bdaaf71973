"""`python3 -m tests.testenv build|up|down|env`, kept for the scripts and CI that call it: each is
the `ecpctl sandbox` command of the same name (see ecpctl/sandbox/ and docs/sandbox.md)."""

from __future__ import annotations

import sys

from ecpctl.cli.main import cli

COMMANDS = ("build", "up", "down", "env", "status")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        print(f"usage: python3 -m tests.testenv {{{','.join(COMMANDS)}}} [options]",
              file=sys.stderr)
        return 1
    if args[0] == "env" and len(args) == 1:
        args = ["build"]        # without a sandbox running, "env" meant: where the binaries are
    try:
        cli.main(["sandbox", *args], prog_name="ecpctl")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
