"""`python -m agent.cli`: the same entry as the `cimedic` script."""

from agent.cli import main

main()
