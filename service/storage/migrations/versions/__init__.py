"""One module per schema revision, each upgrading its predecessor."""
