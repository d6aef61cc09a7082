"""{{ cookiecutter.project_name }}: SageMaker pipeline, local rehearsal and deploy code."""
