"""`python -m filebridge` runs the CLI."""

from filebridge.cli import main

if __name__ == "__main__":
    main()
