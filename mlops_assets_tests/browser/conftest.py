"""One `dagster dev` (webserver + daemon) on a free port and temporary home, and one headless Chromium, for this
package's tests: package-scoped, so both (and the model servers the flows deploy) stop when the browser tests are
done. Playwright's sync API runs an event loop in the main thread while its browser is open, which would make every
later `asyncio.run` of the session fail, and a churn server left running would hold the spec's port."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mlops_assets.ui_client import UiClient

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Generous: 2 cores, and other test runs may share them.
UI_TIMEOUT_MS = 120_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DagsterDev:
    """A running `dagster dev`: its URL, data directory, environment and GraphQL client."""

    def __init__(self, root: Path):
        self.root = root
        self.data_dir = root / "data"
        self.home = self.data_dir / "dagster_home"
        self.home.mkdir(parents=True)
        shutil.copy(REPO / "deploy" / "dagster.yaml", self.home / "dagster.yaml")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "MLOPS_DATA_DIR": str(self.data_dir), "DAGSTER_HOME": str(self.home),
                    "MLFLOW_TRACKING_URI": f"sqlite:///{self.data_dir}/mlflow/mlflow.db",
                    "MLOPS_ALERT_WEBHOOK_URL": "", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        # A production shell's code-server address would become the --host/--port of the code servers `dagster dev`
        # starts on sockets, which then exit: `dagster dev` is the embedded setup.
        for name in ("DAGSTER_CODE_SERVER_HOST", "DAGSTER_CODE_SERVER_PORT"):
            self.env.pop(name, None)
        self.log_path = root / "dagster_dev.log"
        self.client = UiClient("127.0.0.1", self.port)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        dagster = Path(sys.executable).with_name("dagster")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=REPO, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            self.client.wait_until_loaded(timeout=300, alive=lambda: self.proc.poll() is None)
        except Exception:
            self.stop()
            raise RuntimeError(f"dagster dev did not come up; its log:\n{self.log_path.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # Model servers the endpoint asset started for this data directory.
        subprocess.run([str(Path(sys.executable).with_name("mlops-assets")), "stop"], env=self.env, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        self.log.close()


@pytest.fixture(scope="package")
def dagster_dev():
    root = Path(tempfile.mkdtemp(prefix="mlops-browser-"))
    server = DagsterDev(root)
    server.start()
    print(f"\ndagster dev at {server.url}, home {server.home}, log {server.log_path}")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def shots_path() -> Path:
    """Where the screenshots go: `MLOPS_BROWSER_SHOTS`, default .mlops_data/screenshots."""
    return Path(os.environ.get("MLOPS_BROWSER_SHOTS", REPO / ".mlops_data" / "screenshots")).resolve()


@pytest.fixture(scope="package")
def shots_dir() -> Path:
    d = shots_path()
    d.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {d}")
    return d


@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does it: `make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Shots:
    """Numbered viewport screenshots of one test: <shots>/<test>-<nn>-<step>.png."""

    def __init__(self, page, directory: Path, test: str):
        self.page, self.directory, self.test, self.n = page, directory, test, 0

    def __call__(self, step: str) -> Path:
        self.n += 1
        path = self.directory / f"{self.test}-{self.n:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower())}.png"
        self.page.screenshot(path=str(path), animations="disabled")  # dialogs as they settle, not fading in
        return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (the `page` fixture screenshots a failed test)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, dagster_dev, shots_dir, request):
    context = browser.new_context(base_url=dagster_dev.url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    # The "Join the Dagster community" dialog a first visit opens, as if once dismissed with "Skip".
    context.add_init_script("localStorage.setItem('communityNux', '\"1\"')")
    expect.set_options(timeout=UI_TIMEOUT_MS)
    pg = context.new_page()
    yield pg
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        path = shots_dir / f"{request.node.name}-FAILED.png"
        pg.screenshot(path=str(path), full_page=True)
        print(f"\n{request.node.name} failed on {pg.url}; screenshot {path}")
    context.close()


@pytest.fixture
def shot(page, shots_dir, request):
    return Shots(page, shots_dir, request.node.name)


def wait_until(predicate, what: str, timeout: float = 120, poll: float = 1.0):
    """Poll `predicate` until it returns something truthy (returned); after `timeout` s fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


# -- state shared by the flows, prepared through the GraphQL client (order-independent: each flow asks for it) --
def days_ago(n: int) -> str:
    """The UTC day `n` days before today: daily partitions run up to yesterday."""
    return (datetime.now(timezone.utc).date() - timedelta(days=n)).isoformat()


#: The launchpad flow's hyperparameter override (the rollback fixture trains the same model, so it is promoted).
TRAIN_OVERRIDE = {"ops": {"churn__candidate_model": {"config": {"params": "max_depth: 3"}}}}
#: churn training window: 14 + 7 days ending yesterday (the newest ingested day).
CHURN_WINDOW = (days_ago(21), days_ago(1))
#: housing sample landing files: the bad batch day and the backfill's three days.
HOUSING_DAYS = 5


@pytest.fixture(scope="package")
def housing_landing(dagster_dev) -> Path:
    """Sample housing landing files for the last `HOUSING_DAYS` days; their directory."""
    subprocess.run([str(Path(sys.executable).with_name("mlops-assets")), "landing", "--start", days_ago(HOUSING_DAYS),
                    "--days", str(HOUSING_DAYS)], env=dagster_dev.env, cwd=REPO, check=True, capture_output=True)
    return dagster_dev.data_dir / "landing" / "housing"


@pytest.fixture(scope="package")
def churn_ingested(dagster_dev) -> tuple[str, str]:
    """churn ingested over its training window, as one range run; the window."""
    client = dagster_dev.client
    client.run_to_success(client.launch("churn__ingest", partition_range=CHURN_WINDOW))
    return CHURN_WINDOW


@pytest.fixture
def churn_promoted_twice(dagster_dev, churn_ingested) -> None:
    """At least two churn promotions (one to roll back to): the launchpad flow's training counts, so trains only what
    is missing (the same seeded model and override: the holdout difference is zero, non-inferior, so promoted)."""
    client = dagster_dev.client
    for _ in range(2 - min(2, len(client.materializations("churn/champion", limit=2)))):
        client.run_to_success(client.launch("churn__train", run_config=TRAIN_OVERRIDE))
    assert len(client.materializations("churn/champion", limit=2)) == 2


def pytest_terminal_summary(terminalreporter):
    """Name the screenshot folder at the end of the log."""
    terminalreporter.write_line(f"browser screenshots: {shots_path()}")
