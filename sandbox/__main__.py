import logging
import os
import sys

from sandbox.cli import main
from sandbox.runner import warm

code = main()
# Ending here, not through the interpreter's teardown: freeing the objects SDK v3, moto and
# pandas leave took 2 s at the end of every `python -m sandbox demo`. What the teardown
# would have done that matters is done first: output flushed, warm interpreters stopped.
warm.stop_all()
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
