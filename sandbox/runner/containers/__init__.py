"""What runs inside a local job's process in place of a SageMaker container image: the
built-in algorithms' training and the batch-transform model server. Each script here is
started by the runner (as a fork of the warm interpreter) with the job folder's `opt/ml`,
and reads what the container would read there."""
