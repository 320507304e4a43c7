"""The Traffic tab: import a small simulated log as a job, find campaigns, see them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.traffic.simulate import SimulationConfig, simulate
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import new_case, wait_jobs

no_dangling_threads = gui_fixtures.no_dangling_threads
window = gui_fixtures.window


CONFIG = SimulationConfig(seed=3, benign_accounts=30, campaigns=1, hard_negative_scale=0.2)


def _small_log(tmp_path: Path) -> tuple[Path, Any]:
    log = tmp_path / "sim.jsonl"
    truth = simulate(tmp_path / "sim.duckdb", CONFIG, jsonl=log)
    return log, truth


def test_import_then_find_campaigns_shows_them(window: Any, qtbot: Any, tmp_path: Path) -> None:
    win = window
    new_case(win)
    log, truth = _small_log(tmp_path)
    cfg = CONFIG
    win.show_tab("traffic")
    view = win.traffic_view
    assert win.tabs.currentWidget() is view
    assert "No traffic analysis" in view.summary.text()
    view.ask_log_files = lambda: [log]
    job = view.import_logs()
    assert job is not None
    wait_jobs(win, qtbot)
    assert job.outcome == "done", win.errors.calls
    qtbot.waitUntil(lambda: f"{truth.rows:,} requests" in view.summary.text(), timeout=10_000)
    view.served.setText(",".join(cfg.served_regions))
    view.releases.setText(",".join(d.isoformat() for d in cfg.release_dates))
    view.rate_limit.setValue(cfg.rate_limit_per_hour)
    view.find_campaigns()
    wait_jobs(win, qtbot)
    qtbot.waitUntil(lambda: view.campaigns.rowCount() > 0, timeout=10_000)
    assert not win.errors.calls
    rows = view.campaigns.records()
    assert rows and all(r["flagged"] for r in rows)
    planted = truth.campaign_accounts()
    assert set(rows[0]["accounts"]) <= planted
    assert view.indicators.rowCount() == len(rows[0]["indicators"])
    assert view.chart.figure is not None and view.chart.figure.axes[0].get_lines()
    # a bad date is refused in one line, before any job starts
    view.releases.setText("14 July")
    assert view.find_campaigns() is None
    assert win.errors.calls and "release date" in str(win.errors.calls[-1])
    # the recorded analysis is read back when the tab is loaded again
    view.show_analysis(None)
    view.load()
    assert [r["id"] for r in view.campaigns.records()] == [r["id"] for r in rows]


def test_cancelled_import_leaves_no_rows(window: Any, qtbot: Any, tmp_path: Path) -> None:
    from core.traffic.store import describe_store

    win = window
    new_case(win)
    log, _truth = _small_log(tmp_path)
    view = win.traffic_view
    view.ask_log_files = lambda: [log]
    job = view.import_logs()
    assert job is not None
    job.cancel()
    wait_jobs(win, qtbot)
    assert job.outcome in ("cancelled", "done")
    if job.outcome == "cancelled":
        assert describe_store(win.case_file).rows == 0
