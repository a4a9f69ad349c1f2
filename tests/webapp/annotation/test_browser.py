"""The annotation screen in a real headless Chromium (Debian's
/usr/bin/chromium driven by Playwright; nothing is downloaded): an annotator
logs in, drags a box, changes its class with a number key, reloads: the box
has the same pixel coordinates, and the exported CSV holds it."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.django_db(transaction=True)


def _sessions():
    """Backend pids of the test database's PostgreSQL sessions (empty elsewhere)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return {r[0] for r in cur.fetchall()}


@pytest.fixture
def browser(live_server):
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    before = _sessions()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
    # A live-server request thread can leave its session open after the
    # browser goes (seen with PostgreSQL), which would stop the test database
    # from being dropped at the end of the run: end the sessions this test opened.
    from django.db import connection

    leftover = _sessions() - before
    if leftover:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s) AND state = 'idle'",
                        [list(leftover)])


def test_draw_change_class_reload_export(live_server, browser, monkeypatch, django_user_model):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls
    # below are plain synchronous test code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from tests.webapp.annotation.conftest import png_bytes
    from webapp.annotation.exchange import annotations_csv_stream
    from webapp.annotation.models import Box
    from webapp.annotation.services import dataset_annotator_add, detection_dataset_create
    from webapp.datasets.services import dataset_image_add

    ds = detection_dataset_create(name="Browser set", classes=["cat", "dog, big"])
    img = dataset_image_add(dataset=ds, name="street.png", data=png_bytes((640, 400), (120, 160, 200)))
    dataset_image_add(dataset=ds, name="other.png", data=png_bytes((300, 200), (20, 60, 20)))
    django_user_model.objects.create_user("ann", password="pw-ann-123")
    dataset_annotator_add(dataset=ds, username="ann")

    page = browser.new_page(viewport={"width": 1280, "height": 860}, extra_http_headers={"Connection": "close"})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", "pw-ann-123")
    page.click("form button.primary")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/annotate/{ds.pk}/photos/{img.pk}/")
    page.wait_for_selector("#annotator[data-ready='1']")

    svg = page.locator("#ann-svg").bounding_box()
    scale = svg["width"] / 640
    x0, y0, x1, y1 = svg["x"] + 100 * scale, svg["y"] + 50 * scale, svg["x"] + 300 * scale, svg["y"] + 250 * scale
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    page.wait_for_function("document.getElementById('status').textContent === 'All changes saved.'")
    box = Box.objects.get()
    assert box.label.name == "cat" and box.created_by.username == "ann"
    # where the mouse went, in original pixels (1 screen pixel of tolerance)
    assert box.xyxy == pytest.approx((100, 50, 300, 250), abs=1 / scale + 0.01)

    page.keyboard.press("2")  # the box is selected after drawing: key 2 = second class
    page.wait_for_function("document.getElementById('status').textContent === 'All changes saved.'")
    box.refresh_from_db()
    assert box.label.name == "dog, big" and box.revision == 2
    saved = box.xyxy

    page.reload()
    page.wait_for_selector("#annotator[data-ready='1']")
    rect = page.locator("#ann-svg g.ann-box rect[data-part=body]")
    assert rect.count() == 1
    shown = tuple(float(rect.get_attribute(a)) for a in ("x", "y", "width", "height"))
    assert shown == pytest.approx((saved[0], saved[1], saved[2] - saved[0], saved[3] - saved[1]))
    assert "dog, big" in page.locator("#boxes").inner_text() and "drawn by ann" in page.locator("#boxes").inner_text()
    assert page.locator("#progress-text").inner_text() == "1 / 2 annotated"
    assert Box.objects.get(pk=box.pk).xyxy == saved

    # someone else changes the box meanwhile: this page's next save is refused
    # with a message, and the photo's boxes are reloaded from the server
    from webapp.annotation.services import box_update

    bob = django_user_model.objects.create_user("bob", password="pw-bob-123")
    box_update(box_id=box.pk, image=img, revision=box.revision, user=bob, box=(90, 40, 310, 260))
    page.locator("#ann-svg g.ann-box rect[data-part=body]").click()
    page.keyboard.press("1")
    page.wait_for_function("document.getElementById('status').textContent.indexOf('bob changed this box') === 0")
    assert page.locator("#ann-svg g.ann-box rect[data-part=body]").get_attribute("x") == "90"
    assert "dog, big" in page.locator("#boxes").inner_text()
    box.refresh_from_db()
    assert box.label.name == "dog, big" and box.xyxy == (90, 40, 310, 260)
    saved = box.xyxy
    page.close()

    csv_text = "".join(annotations_csv_stream(dataset=ds))
    line = "street.png," + ",".join(f"{v:g}" if v == int(v) else f"{round(v, 2)}" for v in saved) + ',"dog, big"'
    assert line in csv_text.splitlines()
    assert not errors, errors

