"""Everything that writes to the terminal or to TensorBoard; the core never does."""
