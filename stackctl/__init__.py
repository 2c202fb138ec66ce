"""stackctl: deploy self-hosted apps as Docker Compose stacks, repeatably and safely."""

__version__ = "0.1.0"
