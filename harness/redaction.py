"""Credentials out of anything printed, logged or stored.

A URL may carry a secret in its user-info (``https://user:pass@host``) or in a query
parameter (``?api_key=...``, ``&token=...``). :func:`redact_url` masks both; :func:`redact_text`
does it for every URL inside a message (an exception text that quotes the URL it failed on).
Used for error messages, label-file metadata, MLflow params and the tracking URI shown to
the user.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters that hold credentials (matched as substrings, case-insensitively).
SECRET_PARAM_WORDS = ("key", "token", "secret", "password", "passwd", "pwd", "auth", "sig", "cred")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()]+")


def _secret_param(name: str) -> bool:
    low = name.lower()
    return any(word in low for word in SECRET_PARAM_WORDS)


def redact_url(url: str) -> str:
    """``url`` with any user:password and credential query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _secret_param(k) else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        core = url.rstrip(".,:;!?")  # sentence punctuation after a URL is not part of it
        return redact_url(core) + url[len(core) :]

    return _URL.sub(one, text)
