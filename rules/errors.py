"""What can be wrong with a rule set. The service refuses to start on it."""


class RuleSetError(ValueError):
    """A rule file cannot be used; the message names the rule id (when one applies) and the field."""

    def __init__(self, detail: str, *, rule: str | None = None, field: str | None = None) -> None:
        self.detail = detail
        self.rule = rule
        self.field = field
        where = ": ".join(
            part for part in (f"rule {rule!r}" if rule is not None else None, field) if part is not None
        )
        super().__init__(f"{where}: {detail}" if where else detail)
