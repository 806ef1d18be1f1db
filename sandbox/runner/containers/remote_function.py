"""`python -m sagemaker.core.remote_function.invoke_function ARGS...` as a script file, so
that a `@step` function's job starts as a fork of the warm interpreter (pandas and
scikit-learn imported already: half of what the SDK's import costs) instead of a fresh one.
"""

import os
import runpy
import sys

INVOKE = "sagemaker.core.remote_function.invoke_function"

if __name__ == "__main__":
    # As `python -m` runs it: the working directory (the function's workspace) first on the
    # path, not this folder.
    sys.path[0] = os.getcwd()
    runpy.run_module(INVOKE, run_name="__main__", alter_sys=True)
