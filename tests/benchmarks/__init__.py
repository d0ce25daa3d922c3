"""On-demand benchmarks (not collected by pytest): run them as scripts."""
