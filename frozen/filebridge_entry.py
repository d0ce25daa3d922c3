"""The frozen program's entry point: the same CLI as the `filebridge` console script."""

from filebridge.cli import main

if __name__ == "__main__":
    main()
