"""Moved to ecpctl.sandbox.certs (the sandbox is part of the product); this name stays for the tests,
benchmarks and scripts that import it, and is the very same module object."""

import sys

from ecpctl.sandbox import certs as _module

sys.modules[__name__] = _module
