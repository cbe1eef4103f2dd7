"""`python -m mnist_toolkit` runs the `mnist` command."""

from .cli import main

if __name__ == "__main__":
    main()
