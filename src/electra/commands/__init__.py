"""Command-line subcommands; each module registers itself in `electra.cli`."""
