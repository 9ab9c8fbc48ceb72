"""The bundle: configuration of the stack's components, the native runner, the on-call inbox."""

from pathlib import Path

STATE_DIR = Path(".obsstack")  # where `obsstack up` keeps configs, data, logs and PIDs, in the
# obsstack directory unless --state-dir says otherwise
