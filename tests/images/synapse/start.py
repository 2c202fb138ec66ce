#!/opt/synapse/bin/python3
"""Entry point shaped like matrixdotorg/synapse's /start.py for the parts stackctl uses:
`run` (the default) starts the homeserver on $SYNAPSE_CONFIG_PATH (default
/data/homeserver.yaml); any other first argument is run as a command."""

import os
import sys

mode = sys.argv[1] if len(sys.argv) > 1 else "run"
if mode == "run":
    config = os.environ.get("SYNAPSE_CONFIG_PATH", "/data/homeserver.yaml")
    argv = [sys.executable, "-m", "synapse.app.homeserver", "--config-path", config]
    os.execv(sys.executable, argv)
os.execvp(sys.argv[1], sys.argv[1:])
