"""`python -m tests.fakecloud_cli ARGS`: the bedform CLI with the fake driver registered."""

from bedform.cli import main
from tests.fakecloud import register

if __name__ == "__main__":
    register()
    main()
