"""The demo: the whole round trip against the embedded sandbox, with its sample
files and its report.

May import: every part, the sandbox and the shell's foundation and `jobs`; nothing
imports the demo but `cli`.
"""

from filebridge.demo.run import run_demo

__all__ = ["run_demo"]
