"""The ``alsrec`` command line: a thin shell over the public Python API."""
