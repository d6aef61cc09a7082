"""Model repository package: SageMaker pipeline, local rehearsal, deploy and infrastructure code."""
