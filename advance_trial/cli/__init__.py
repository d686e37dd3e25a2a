"""The command line: one typer module per command group, a thin skin over the library."""
