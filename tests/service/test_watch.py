"""The watcher: frames written while it runs, a SIGKILL mid-way, a restart, exactly once."""

import shutil
import signal
import subprocess
import sys
import threading
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mxqc.scan.analyse import ScanOptions
from mxqc.serve import ServeSettings, create_app
from mxqc.simulate.export import write_simulated
from mxqc.watch import Watcher, WatchOptions, connect, db


def _frames(engine):
    with engine.connect() as conn:
        return conn.execute(select(db.files.c.path, db.frames.c.frame, db.frames.c.status)
                            .join(db.files, db.files.c.id == db.frames.c.file_id)).all()


def test_kill_and_restart_records_every_frame_exactly_once(tmp_path, smoke_model_path,
                                                           database_url):
    source = tmp_path / "source"
    write_simulated(source, 12, seed=31, detector="square256", fmt="cbf")
    watched, database = tmp_path / "beamline", database_url
    watched.mkdir()
    command = [sys.executable, "-m", "mxqc.cli", "watch", str(watched), "--db",
               str(database), "--model", str(smoke_model_path), "--settle", "0.3",
               "--rescan", "0.5"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    sources = sorted(source.glob("*.cbf"))

    def detector():  # a frame every 0.3 s, written in two parts like a slow file system
        for path in sources[1:]:
            data = path.read_bytes()
            target = watched / path.name
            with open(target, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
                time.sleep(0.1)
                f.write(data[len(data) // 2:])
            time.sleep(0.3)
        (watched / "broken.cbf").write_bytes(b"###CBF: VERSION 1.5\r\nnot really")

    shutil.copy(sources[0], watched / sources[0].name)  # the run starts once the watcher is up
    engine = connect(str(database))
    deadline = time.time() + 120
    while time.time() < deadline and not _frames(engine):
        time.sleep(0.1)
    writer = threading.Thread(target=detector)
    writer.start()
    while time.time() < deadline and len(_frames(engine)) < 4:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    writer.join()
    assert 4 <= len(_frames(engine)) < 13, "the watcher should have been killed mid-way"
    restart = subprocess.run([*command, "--until-idle"], capture_output=True, text=True,
                             timeout=300)
    assert restart.returncode == 0, restart.stderr
    rows = _frames(engine)
    keys = [(path, frame) for path, frame, _ in rows]
    assert len(keys) == len(set(keys)) == 13  # 12 frames + the broken file's error row
    assert sum(status == "error" for _, _, status in rows) == 1


def test_backlog_alerts_and_the_api_reading_the_database(tmp_path, smoke_model_path):
    watched = tmp_path / "run1"
    write_simulated(watched, 6, seed=32, detector="square256", fmt="cbf")
    engine = connect(str(tmp_path / "w.sqlite"))
    watcher = Watcher([watched], engine, scan_options=ScanOptions(
        model_path=str(smoke_model_path), heatmaps=False),
        options=WatchOptions(settle_s=0.1, alert_window=5,
                             alert_rates=tuple((c, 0.0) for c in ("ice_ring",))),
        workers=2)  # six ready frames: a batch of three for each worker
    watcher.run(until_idle=True)
    assert len(_frames(engine)) == 6
    watcher.run(until_idle=True)  # nothing new: nothing processed twice
    assert len(_frames(engine)) == 6
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.alerts)).scalar() == 1
    shutil.copy(next(watched.glob("*.cbf")), watched / "late_copy.cbf")
    watcher.run(until_idle=True)
    assert len(_frames(engine)) == 7
    settings = ServeSettings(model_path=str(smoke_model_path), db_url=str(tmp_path / "w.sqlite"),
                             data_dir=str(tmp_path / "serve"))
    with TestClient(create_app(settings)) as client:
        datasets = client.get("/v1/datasets").json()
        assert len(datasets) == 1 and datasets[0]["frames"] == 7
        summary = client.get(f"/v1/datasets/{datasets[0]['id']}").json()
        assert summary["alerts"] and "ice ring" in summary["alerts"][0]["message"]
        # each simulated frame has its own geometry; the late copy repeats one frame's
        sweeps = summary["sweeps"]
        assert sum(s["frames"] for s in sweeps) == 7 and len(sweeps) >= 6
        for s in sweeps:
            assert all(set(k) >= {"shows", "p_sweep", "held", "evidence"}
                       for k in s["classes"].values())
        frames = client.get("/v1/frames", params={"limit": 3}).json()
        assert len(frames) == 3
        one = client.get(f"/v1/frames/{frames[0]['id']}").json()
        assert one["row"]["file"].endswith(".cbf")
        assert client.get("/v1/frames/999999").status_code == 404
        assert client.get("/v1/frames", params={"flagged": "bogus"}).status_code == 400


def test_an_hdf5_master_waits_for_its_data_files(tmp_path):
    from mxqc.guard import GuardedPool
    from mxqc.watch.watcher import _complete

    write_simulated(tmp_path, 4, seed=33, detector="square256", fmt="h5", frames_per_file=4)
    master = next(tmp_path.glob("*_master.h5"))
    data = next(tmp_path.glob("*_data_*.h5"))
    with GuardedPool(1) as pool:
        assert _complete(str(master), pool)
        hidden = data.rename(data.with_suffix(".writing"))
        assert not _complete(str(master), pool)  # the detector has not written its data yet
        hidden.rename(data)
        assert _complete(str(master), pool)


def test_a_file_deleted_before_it_is_read_is_skipped(tmp_path, smoke_model_path):
    watched = tmp_path / "run"
    write_simulated(watched, 2, seed=34, detector="square256", fmt="cbf")
    watcher = Watcher([watched], connect(str(tmp_path / "w.sqlite")),
                      scan_options=ScanOptions(model_path=str(smoke_model_path), heatmaps=False))
    first, second = sorted(watched.glob("*.cbf"))
    second.unlink()  # the detector's clean-up, between listing and reading
    try:
        assert watcher.process_files([str(first), str(second)]) == 1
    finally:
        watcher.pool.close()
    assert [path for path, _, _ in _frames(watcher.engine)] == [str(first)]


def _ice_rows(path, numbers, ice_from):
    """Results of single-frame files ``xtal_NNNN.cbf`` that show ice from ``ice_from`` on."""
    from mxqc.classes import CLASSES
    from mxqc.result import FrameResult

    rows = []
    for n in numbers:
        row = {"file": str(path / f"xtal_{n:04d}.cbf"), "frame": 0, "status": "ok", "error": ""}
        for c in CLASSES:
            p = 0.95 if c == "ice_ring" and n >= ice_from else 0.05
            row |= {f"p_{c}": p, c: int(p > 0.5), f"evidence_{c}": ""}
        row["evidence_ice_ring"] = "ice rings at 3.90, 3.67, 3.44 Å" if n >= ice_from else ""
        rows.append(FrameResult.from_record(row))
    return rows


def test_a_sweep_that_shows_ice_raises_one_alert_naming_its_frames(tmp_path):
    watcher = Watcher([tmp_path], connect(str(tmp_path / "w.sqlite")),
                      options=WatchOptions(alert_rates=()))
    stat = (tmp_path / "w.sqlite").stat()
    for start in range(0, 60, 10):  # files arrive ten at a time
        for row in _ice_rows(tmp_path, range(start, start + 10), ice_from=30):
            watcher._record(row["file"], stat, [row])
    with watcher.engine.connect() as conn:
        alerts = conn.execute(select(db.alerts)).all()
    assert len(alerts) == 1  # once per sweep and class, however many frames follow
    (alert,) = alerts
    assert alert.class_name == "ice_ring" and alert.sweep == str(tmp_path / "xtal_")
    assert "sweep xtal_#: held on frames 31, flagged on 30–31 so far" in alert.message
    assert "3.90, 3.67" in alert.message


def test_an_older_database_gains_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL, "
                    "class_name VARCHAR(64) NOT NULL, rate FLOAT, window INTEGER, "
                    "message TEXT, created FLOAT)")
        old.execute("INSERT INTO alerts (dataset_id, class_name, message) VALUES (1, 'x', 'y')")
    engine = connect(str(path))
    with engine.connect() as conn:
        (alert,) = conn.execute(select(db.alerts)).all()
    assert alert.message == "y" and alert.sweep is None
