"""The page frame in a real headless Chromium (issue 13: on a phone the
navigation took three rows on every page): at a phone's width the links fold
into one "Menu" button, the top bar is one row, and the button opens them; at
a desktop's width the links show without it."""

import pytest

from tests.webapp.annotation.test_browser import browser, orm  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def _staff():
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ops", password="pw-ops-123", is_staff=True)


def _page(browser, live_server, width, height):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "pw-ops-123")
    page.click("form button.primary")
    page.wait_for_url(f"{live_server.url}/")
    return page


def test_on_a_phone_the_links_fold_into_one_menu(live_server, browser):  # noqa: F811
    orm(_staff)
    page = _page(browser, live_server, 390, 844)
    bar = page.locator("header.topbar").bounding_box()
    assert bar["height"] < 70, bar  # one row: the brand and the Menu button
    assert page.locator("label.nav-burger").is_visible()
    assert not page.locator("#main-nav a", has_text="Datasets").is_visible()
    page.click("label.nav-burger")
    assert page.locator("#main-nav a", has_text="Datasets").is_visible()
    assert page.locator("#main-nav a", has_text="Members").is_visible()
    page.locator("#main-nav a", has_text="Jobs").click()
    page.wait_for_url(f"{live_server.url}/jobs/**")


def test_on_a_desktop_the_links_show_without_a_menu(live_server, browser):  # noqa: F811
    orm(_staff)
    page = _page(browser, live_server, 1280, 800)
    assert not page.locator("label.nav-burger").is_visible()
    assert page.locator("#main-nav a", has_text="Datasets").is_visible()
