"""Several authenticated users on one real Jupyter server (as JupyterHub would give them).

`TokenUsers` is a jupyter_server IdentityProvider that maps one token per user to that
user's name. Configure it with `ServerApp.identity_provider_class` (see the `jp_server_config`
fixtures of tests/server and tests/security) and send `headers=as_user("alice")` with
`jp_fetch`. The server's own token still authenticates, as an anonymous user who is a
member of no role (or as `--TokenUsers.token_user=NAME`, as the JupyterLab tests do).
"""

from __future__ import annotations

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict, Unicode

USERS = ("alice", "bob", "carol", "mallory", "sam")


def token_of(user: str) -> str:
    return f"token-of-{user}-0123456789"


def as_user(user: str) -> dict[str, str]:
    """Request headers that authenticate as `user`."""
    return {"Authorization": f"token {token_of(user)}"}


class TokenUsers(IdentityProvider):
    """One token per user: `Authorization: token <token>` authenticates as that user."""

    users = Dict(Unicode(), default_value={token_of(name): name for name in USERS}).tag(config=True)
    token_user = Unicode("", help="Who the server's own token authenticates as (default: anonymous).").tag(config=True)

    async def get_user_token(self, handler):  # type: ignore[no-untyped-def]
        name = self.users.get(self.get_token(handler) or "")
        if name:
            return User(username=name, name=name, display_name=name)
        user = await super().get_user_token(handler)
        if user is not None and self.token_user:
            return User(username=self.token_user, name=self.token_user, display_name=self.token_user)
        return user


def server_config() -> dict:
    """jp_server_config: the dataops_nb extension and the token users."""
    return {"ServerApp": {"jpserver_extensions": {"dataops_nb.server": True},
                          "identity_provider_class": TokenUsers}}
