"""The one way a database URL is shown to a person: without its password.

Every message, log line, page header and error that names a storage passes
its URL through :func:`display_url`. ``hpsearch studies`` used to print
``no studies in postgresql+psycopg://hpsearch:<password>@...``: a URL on a
shared terminal, in a CI log or in a pasted error is a leaked secret.
SQLAlchemy's own rendering (``hide_password``) masks the password of any URL
it can parse; a URL it cannot parse (the user's typo, quoted back in an error)
is masked by pattern, as is a ``password=`` query parameter.
"""

from __future__ import annotations

import re

MASK = "***"
_USERINFO = re.compile(r"(?P<head>://[^/@:]*:)(?P<secret>[^@/]*)(?=@)")
_QUERY_SECRET = re.compile(r"(?i)(?P<head>[?&](?:password|passwd|pwd|sslpassword)=)(?P<secret>[^&#]*)")


def display_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (the rest kept, so the user can tell which database)."""
    text = str(url)
    try:
        from sqlalchemy.engine import make_url

        text = make_url(text).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: mask by pattern below
        pass
    text = _USERINFO.sub(lambda m: m.group("head") + (MASK if m.group("secret") else ""), text)
    return _QUERY_SECRET.sub(lambda m: m.group("head") + MASK, text)
