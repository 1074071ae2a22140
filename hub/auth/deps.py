"""FastAPI dependencies for identity and access, with explicit inputs (no globals).

    auth = Auth(verifier.verify, rules=HUB_RULES)
    app = FastAPI(dependencies=[Depends(auth.guard)])    # every route checked by the table
    install_auth_problems(app)                           # 401/403/429 as problem+json

    async def handler(who: Principal = Depends(auth.current_principal)) -> ...

`current_principal` is `ANONYMOUS` without an Authorization header; a bad bearer token is a
401 with the reason (`WWW-Authenticate: Bearer error="invalid_token"`), never anonymous.
`require(*roles)` is a route-level check when the table is not used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hyperfed.adapters.problems import ProblemError, problem
from hyperfed.hub.auth.principal import ANONYMOUS, Principal
from hyperfed.hub.auth.rules import HUB_RULES, Rules
from hyperfed.hub.auth.verify import TokenRejected

__all__ = [
    "Auth",
    "AuthProblem",
    "Forbidden",
    "TooManyQueries",
    "Unauthorized",
    "install_auth_problems",
]


class AuthProblem(ProblemError):
    """A problem+json error that also sets response headers."""

    headers: ClassVar[dict[str, str]] = {}

    def response_headers(self) -> dict[str, str]:
        return dict(self.headers)


class Unauthorized(AuthProblem):
    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str, error: str = "invalid_token") -> None:
        super().__init__(detail)
        self.error = error

    def response_headers(self) -> dict[str, str]:
        if self.error == "":
            return {"WWW-Authenticate": 'Bearer realm="hyperfed"'}
        reason = self.detail.replace('"', "'")
        return {
            "WWW-Authenticate": f'Bearer realm="hyperfed", error="{self.error}", '
            f'error_description="{reason}"'
        }


class Forbidden(AuthProblem):
    status = 403
    title = "Forbidden"


class TooManyQueries(AuthProblem):
    status = 429
    title = "Query budget exhausted"

    def __init__(self, detail: str, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def install_auth_problems(app: FastAPI) -> None:
    @app.exception_handler(AuthProblem)
    async def _auth(_: Request, exc: AuthProblem) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail, **exc.extra)
        for k, v in exc.response_headers().items():
            response.headers[k] = v
        return response


Verify = Callable[[str], Awaitable[Principal]]


class Auth:
    def __init__(self, verify: Verify | None, rules: Rules = HUB_RULES) -> None:
        """`verify`: a `TokenVerifier.verify`; None switches authentication off (everyone
        is `local` with every role: for tests and closed setups only)."""
        self.verify = verify
        self.rules = rules

    async def current_principal(self, request: Request) -> Principal:
        cached = request.scope.get("hyperfed.principal")
        if isinstance(cached, Principal):
            return cached
        principal = await self._principal(request)
        request.scope["hyperfed.principal"] = principal
        return principal

    async def _principal(self, request: Request) -> Principal:
        if self.verify is None:
            return Principal(
                id="local", roles=frozenset({"researcher", "operator", "admin", "node"})
            )
        header = request.headers.get("authorization")
        if not header:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return ANONYMOUS  # e.g. Basic client authentication at the token endpoint
        if not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'", "invalid_request")
        try:
            return await self.verify(token.strip())
        except TokenRejected as exc:
            raise Unauthorized(str(exc)) from exc

    def check(self, principal: Principal, allowed: frozenset[str]) -> None:
        if any(principal.has(r) for r in allowed):
            return
        if not principal.authenticated:
            raise Unauthorized("sign in first: this needs a bearer token", "")
        raise Forbidden(f"this needs the role {' or '.join(sorted(allowed))}")

    def require(self, *roles: str) -> Callable[[Request], Awaitable[Principal]]:
        allowed = frozenset(roles)

        async def dependency(request: Request) -> Principal:
            principal = await self.current_principal(request)
            self.check(principal, allowed)
            return principal

        return dependency

    async def guard(self, request: Request) -> Principal:
        """The rule-table check for whatever route matched (fail closed)."""
        route = request.scope.get("route")
        path = getattr(route, "path", None)
        allowed = self.rules.get((request.method, str(path)))
        if allowed is None and request.method == "HEAD":
            allowed = self.rules.get(("GET", str(path)))
        if allowed is None:
            raise Forbidden(f"no access rule for {request.method} {path}: refused")
        if "anonymous" in allowed:  # public: the token (if any) is checked only when used
            return ANONYMOUS
        principal = await self.current_principal(request)
        self.check(principal, allowed)
        return principal
