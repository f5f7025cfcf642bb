"""Engine-level refusals, each carrying the exit code it means (ARCHITECTURE §7)."""

from __future__ import annotations

from sssctl import exitcodes


class EngineError(Exception):
    """A refusal or failure the CLI prints as-is and turns into ``exit_code``."""

    exit_code = exitcodes.ERROR


class PlanRefused(EngineError):
    """Guards objected to the plan; every refusal is listed."""

    def __init__(self, refusals: list[str]) -> None:
        super().__init__("the plan is refused:\n" + "\n".join(f"  - {r}" for r in refusals))
        self.refusals = refusals
        # set by the command that knew which environment it planned, for the refused document
        self.environment_name: str | None = None


class PlanIncomplete(EngineError):
    """Apply refuses a plan in which some objects could not be read."""

    exit_code = exitcodes.INCOMPLETE


class StalePlan(EngineError):
    """A saved plan no longer matches the state, the configuration or the environment."""


class NotConfirmed(EngineError):
    """The user declined, or no confirmation was possible."""
