"""Parity with the SageMaker framework images: the step scripts and the serving handler run under
each image's Python and library versions (make parity; docs/local.md)."""
