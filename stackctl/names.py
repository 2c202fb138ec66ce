"""Every name stackctl gives the engine: compose project, containers, network, labels.

The seeds' names are the defaults: project `ente`, containers `ente-museum`, network
`ente.lan`. A site's `name_prefix` goes in front of all of them, so a second installation
on one engine (or a test run) never meets the user's stacks. Nothing else builds these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Labels on what stackctl creates outside compose (networks), so it can be found again
# and removed by exactly what made it. Containers carry compose's project label.
LABEL_STACK = "org.stackctl.stack"
LABEL_PREFIX = "org.stackctl.prefix"
PROJECT_LABEL = "com.docker.compose.project"

# A compose project name: lower-case letters, digits, '-' and '_', starting with a letter or
# digit; a container name allows that too. The prefix ends the same way a name may continue.
PREFIX_PATTERN = re.compile(r"^(?:[a-z0-9][a-z0-9_-]{0,29})?$")


@dataclass(frozen=True)
class StackNames:
    """Every engine name of one stack (project, network, containers), from one place."""

    stack: str
    prefix: str = ""

    @property
    def project(self) -> str:
        """The compose project name (`name:` in the compose file, `-p` on the command line)."""
        return f"{self.prefix}{self.stack}"

    def container(self, service: str) -> str:
        """A service's container name: <stack>-<service>, as the seeds name them."""
        return f"{self.project}-{service}"

    @property
    def network(self) -> str:
        """The stack's own bridge network, <stack>.lan; its name is also its DNS suffix."""
        return f"{self.project}.lan"

    @property
    def labels(self) -> dict[str, str]:
        """Labels for what stackctl creates itself (the network)."""
        return {LABEL_STACK: self.stack, LABEL_PREFIX: self.prefix}


def stack_names(stack: str, prefix: str = "") -> StackNames:
    """The one place a stack's engine names come from."""
    if not PREFIX_PATTERN.match(prefix):
        raise ValueError(f"name prefix {prefix!r} is not a valid compose project prefix")
    return StackNames(stack, prefix)
