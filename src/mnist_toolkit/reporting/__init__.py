"""Everything that writes to the terminal (Rich tables, progress bars, panels); the core never does."""
