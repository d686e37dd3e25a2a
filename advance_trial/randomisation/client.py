"""The command line as a client of the allocation service (``randomise allocate --server URL``).

Standard library only. The account's API token comes from ``ADVANCE_TRIAL_TOKEN`` (never an option: a
token on the command line is visible to every user of the machine). A server certificate that the
system does not trust is given with ``SSL_CERT_FILE``, as for any Python program.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from advance_trial.errors import (
    AdvanceTrialError,
    DataError,
    DataProblem,
    IntegrityError,
    NotAllocatedError,
    UsageError,
)

TOKEN_ENV = "ADVANCE_TRIAL_TOKEN"


class ServiceRefused(AdvanceTrialError):
    """The service refused the request for the account's role or sites (403), or for its token (401)."""

    title = "Refused by the allocation service"


class AlreadyAllocated(AdvanceTrialError):
    """The man was allocated already (409); ``body`` is what the service showed of him."""

    title = "Already allocated"

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(f"{body.get('participant_id')} was allocated already")
        self.body = body


def token() -> str:
    """The API token from ``ADVANCE_TRIAL_TOKEN``; a usage error when it is not set."""
    value = os.environ.get(TOKEN_ENV, "").strip()
    if not value:
        raise UsageError(f"--server needs the account's API token in {TOKEN_ENV}")
    return value


def call(server: str, method: str, path: str, body: dict[str, Any] | None = None,
         timeout: float = 30.0) -> dict[str, Any]:  # fmt: skip
    """One request to the service's JSON API; its JSON answer, or the library exception its status means."""
    if not server.startswith(("http://", "https://")):
        raise UsageError(f"--server {server!r}: give the service's address as http(s)://HOST:PORT")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token()}", "Content-Type": "application/json", "Accept": "application/json"}
    request = urllib.request.Request(server.rstrip("/") + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read() or b"{}")
        except ValueError:
            answer = {"error": f"HTTP {exc.code}"}
        raise _refusal(exc.code, answer) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"{server}: cannot reach the allocation service ({reason})") from None


def _refusal(status: int, answer: dict[str, Any]) -> AdvanceTrialError:
    message = str(answer.get("error", f"HTTP {status}"))
    problems = [DataProblem(str(p.get("file")), p.get("row"), p.get("column"), p.get("value"), str(p.get("problem")))
                for p in answer.get("problems") or [] if isinstance(p, dict)]  # fmt: skip
    if status == 409:
        return AlreadyAllocated(answer)
    if status == 404:
        return NotAllocatedError(problems or [DataProblem("allocation service", None, None, None, message)])
    if status == 400:
        return DataError(problems) if problems else UsageError(message)
    if status in (401, 403):
        return ServiceRefused(message)
    if status == 503:
        return IntegrityError(f"the allocation service's log fails: {message}")
    return AdvanceTrialError(f"the allocation service answered {status}: {message}")


def allocate(server: str, participant_id: str, site: str, factors: dict[str, str],
             eligibility: dict[str, bool] | None = None) -> dict[str, Any]:  # fmt: skip
    """Allocate one man through the service; his allocation and receipt (:class:`AlreadyAllocated` if he was)."""
    body: dict[str, Any] = {"participant_id": participant_id, "site": site, "factors": factors}
    if eligibility is not None:
        body["eligibility"] = eligibility
    return call(server, "POST", "/api/allocations", body)


def unblind(server: str, participant_id: str, reason: str) -> dict[str, Any]:
    """Unblind one man through the service (an unblinder's token)."""
    from urllib.parse import quote

    return call(server, "POST", f"/api/allocations/{quote(participant_id, safe='')}/unblind", {"reason": reason})


def whoami(server: str) -> dict[str, Any]:
    """The token's account and the service's trial."""
    return call(server, "GET", "/api/whoami")
