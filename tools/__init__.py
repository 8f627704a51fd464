"""Developer tools beside the product: the test-data generator, and the bootstrapping of the
external tools the nox sessions need."""
