"""`python -m hermes` is the same command as `hermes`."""

from hermes.cli import run

if __name__ == "__main__":
    run()
