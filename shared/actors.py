"""Who acts: the caller a use case works for, whichever way the call came in.

Plain Python, so use cases can ask "may this caller touch that district?" without Flask;
the HTTP layer builds one from the bearer token (`shared/http/auth.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The district claim of operators, who see every district.
OPERATOR = "*"


@dataclass(frozen=True)
class Actor:
    sub: str
    district: str
    scopes: frozenset[str]

    @property
    def is_operator(self) -> bool:
        return self.district == OPERATOR

    def has(self, scope: str) -> bool:
        service = scope.split(":", 1)[0]
        # An admin scope of a service implies its read and write scopes.
        return scope in self.scopes or f"{service}:admin" in self.scopes

    def sees(self, district_id: Any) -> bool:
        return self.is_operator or str(district_id) == self.district
