"""The terminal's screen-reader mode is a setting of the account: saved by the page's checkbox,
given back on every page, refused to anonymous users and nonsense values."""

from __future__ import annotations

import pytest

from accounts.preferences import screen_reader_get
from tests.fixtures.classes import client_for, person

pytestmark = pytest.mark.django_db
URL = "/accounts/preferences/screen-reader/"


def test_the_setting_is_saved_with_the_account_and_shown_on_the_next_page() -> None:
    ada, bob = person("ada"), person("bob")
    page = client_for(ada).get("/learn/pods/").content.decode()
    assert 'data-saved="off"' in page

    answer = client_for(ada).post(URL, {"on": "true"})
    assert answer.status_code == 200 and answer.json() == {"screen_reader": True}
    assert screen_reader_get(user=ada) is True
    assert 'data-saved="on"' in client_for(ada).get("/learn/pods/").content.decode()
    assert screen_reader_get(user=bob) is False  # one account's setting only

    client_for(ada).post(URL, {"on": "false"})
    assert screen_reader_get(user=ada) is False


def test_refused_to_anonymous_users_get_and_nonsense() -> None:
    ada = person("ada")
    from django.test import Client

    assert Client().post(URL, {"on": "true"}).status_code == 302  # to the login page
    assert client_for(ada).get(URL).status_code == 405
    assert client_for(ada).post(URL, {"on": "yes please"}).status_code == 400
    assert client_for(ada, csrf=True).post(URL, {"on": "true"}).status_code == 403
    assert screen_reader_get(user=ada) is False
