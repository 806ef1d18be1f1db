"""Step Functions orchestration of the model lifecycle: validate the data, run the SageMaker
pipeline, hold the new model to the champion, ask a person, deploy (see README.md)."""
