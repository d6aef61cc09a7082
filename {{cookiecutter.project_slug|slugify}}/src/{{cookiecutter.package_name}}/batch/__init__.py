"""Batch inference: a SageMaker Batch Transform job over a prefix of CSV files (docs/batch.md).

- `source`: which version a batch runs (prod: the released version prod serves, which must be
  the locked one; qa: the QA-verified dev version of the lock) and the checks before it runs;
- `job`: the job's deterministic name, its CreateTransformJob request, create-or-attach;
- `outputs`: the output check (a `.out` per input file, equal row counts, every line the input
  line joined with one prediction) and the job summary;
- `local`: the same split-by-line and join against a model served on 127.0.0.1;
- `cli`: `batch run`, `batch plan` (the workflow's inputs) and `batch local`.

Standard library and boto3 only, except `local` (it serves the model with the rehearsal server).
"""
