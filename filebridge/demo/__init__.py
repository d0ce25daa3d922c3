"""The demo: the whole round trip against the embedded sandbox, with its sample files and report."""
