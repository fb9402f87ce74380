"""Real-name identity check: does this ID number belong to a person of this name (INTEGRATIONS.md §2)."""

from __future__ import annotations

from .http import HttpClient

RESULTS = frozenset({"match", "mismatch", "not_found"})


class IdentityClient(HttpClient):
    """`POST /v1/verify` client; every failure maps to 503 `identity_unavailable`."""

    unavailable_code = "identity_unavailable"
    system_name = "identity check"

    def verify(self, id_number: str, name: str) -> str:
        """`match`, `mismatch` or `not_found`."""
        # The check only reads, so repeating a POST whose answer was lost is harmless.
        response = self.request("POST", "/v1/verify", repeatable=True, json={"id_number": id_number, "name": name})
        if response.status_code != 200:
            raise self.unavailable(f"HTTP {response.status_code}")
        result = self.json_of(response).get("result")
        if not isinstance(result, str) or result not in RESULTS:
            raise self.unavailable("unexpected result")
        return result
