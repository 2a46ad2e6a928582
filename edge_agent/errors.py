"""The edge agent's exception family.

Everything the agent raises on purpose derives from :class:`EdgeAgentError`;
the CLI and the MQTT link translate these into exit codes, log lines and
error responses. Anything else is a bug.
"""

from collections.abc import Sequence

from .problems import InvalidInput, Problem


class EdgeAgentError(Exception):
    """Base class of every error the edge agent raises on purpose."""


class ConfigError(EdgeAgentError, InvalidInput):
    """The configuration file is missing, unreadable or invalid.

    ``problems`` holds one :class:`~edge_agent.problems.Problem` per mistake (file, line, key path, what).
    """

    def __init__(self, source: str, problems: Sequence[Problem]):
        InvalidInput.__init__(self, problems, source)


class CredentialError(EdgeAgentError):
    """A required secret is missing or malformed."""


class ContractError(EdgeAgentError):
    """A message does not follow the MQTT contract (bad topic, envelope or payload)."""


class RejectedMessage(ContractError):
    """A pushed message was valid JSON but cannot be applied (wrong store, stale version...)."""
