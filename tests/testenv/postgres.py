"""Moved to ecpctl.sandbox.postgres (the sandbox is part of the product); this name stays for the tests,
benchmarks and scripts that import it, and is the very same module object."""

import sys

from ecpctl.sandbox import postgres as _module

sys.modules[__name__] = _module
