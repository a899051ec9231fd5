"""display_url: the one way a database URL is shown, never with its password."""

from __future__ import annotations

import pytest

from hpsearch.storage import display_url


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql+psycopg://me:pw@db:5432/h", "postgresql+psycopg://me:***@db:5432/h"),
        ("postgresql://me@db/h", "postgresql://me@db/h"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("not a url://me:pw@x", "not a url://me:***@x"),
        ("postgresql://db/h?password=pw&sslmode=require", "postgresql://db/h?password=***&sslmode=require"),
    ],
)
def test_display_url_masks_every_form_of_password(url, shown):
    assert display_url(url) == shown
