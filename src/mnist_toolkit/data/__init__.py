"""The MNIST data: the IDX file format, the copy embedded in the package, downloading and importing the
four files, checking them, and loading a split as numpy arrays (`source.load_split`)."""
