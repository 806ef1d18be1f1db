"""The state machine's Lambda functions. Each module has `handler(event, context)`; they
import only the standard library, boto3 and each other (relatively), so the function's code
is this folder's parent, `orchestration/`, zipped as it is, handler `lambdas.<module>.handler`."""
