"""What a person does in the Dagster UI, as Playwright steps: type an asset selection, launch from a dialog."""

from __future__ import annotations

import re
import urllib.parse

from playwright.sync_api import Page, expect


def ingestion_chain(project: str) -> str:
    """The asset-selection query of one project's ingestion chain (raw -> validated -> features)."""
    return f'group:{project} and tag:chain=ingest'


def type_selection(page: Page, query: str) -> None:
    """Type `query` into the asset-selection box ("Search and filter assets") and submit it."""
    page.locator(".CodeMirror").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(query)
    page.keyboard.press("Enter")


def open_lineage(page: Page, query: str) -> None:
    """The global lineage filtered to `query` (the URL the catalog's "View lineage" opens)."""
    page.goto("/asset-groups~" + urllib.parse.quote(query, safe="") + "/")
    expect(page.get_by_role("button", name=re.compile("Materialize"))).to_be_visible()


def materialize_partitions(page: Page, partitions: str, launch: str) -> None:
    """Click "Materialize all…", type the partition selection (a day or `[a...b]`) and click the `launch` button."""
    page.get_by_role("button", name=re.compile("Materialize all")).click()
    dialog = page.get_by_role("dialog")
    selection = dialog.locator("input[type=text]").first
    selection.fill(partitions)
    selection.press("Enter")
    dialog.get_by_role("button", name=launch).click()


def view_launched(page: Page) -> None:
    """Follow the "View" link of the toast a launch shows (to the run or backfill page)."""
    page.get_by_role("link", name="View", exact=True).or_(
        page.get_by_role("button", name="View", exact=True)).first.click()


def run_config(page: Page, job: str, yaml_text: str) -> None:
    """Open `job`'s launchpad, replace its config with `yaml_text` and click "Launch Run"; lands on the run page."""
    page.goto(f"/locations/mlops_assets/jobs/{job}/playground")
    editor = page.locator(".CodeMirror").first
    expect(editor).to_be_visible()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(yaml_text)
    page.get_by_role("button", name="Launch Run").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))


def run_succeeds(page: Page) -> str:
    """On a run page: wait for its status to read Success (Failure fails the test); the run id."""
    status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    expect(status).to_be_visible()
    assert status.inner_text() == "Success", f"run ended {status.inner_text()}: {page.url}"
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def show_markdown(page: Page, row_label: str):
    """Open the "[Show Markdown]" dialog of metadata row `row_label`; the dialog."""
    row = page.locator("tr", has=page.get_by_text(row_label, exact=True))
    row.get_by_text("[Show Markdown]").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog
