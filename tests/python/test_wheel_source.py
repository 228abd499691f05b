"""Where the pool's workers load webpickle from, for each way it can be installed in
Pyodide (webpickle._wheel_source), from the state each install leaves behind. The
logic is pure, so it runs natively and in Pyodide; tests/workers/test_wheel_source_pyodide.py
starts real workers from those states.
"""

import pytest
from webpickle._wheel_source import WheelNotFoundError, without_query, worker_wheel

WHEEL = "webpickle-0.1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"


def test_loaded_from_the_lock_file_workers_load_it_by_name():
    assert worker_wheel(loaded_source="default channel") is None


def test_loaded_from_a_url_or_a_path_workers_use_it():
    assert worker_wheel(loaded_source=f"https://example.test/wheels/{WHEEL}") == f"https://example.test/wheels/{WHEEL}"
    assert worker_wheel(loaded_source=f"./{WHEEL}") == f"./{WHEEL}"
    assert worker_wheel(loaded_source=f"/srv/dist/{WHEEL}") == f"/srv/dist/{WHEEL}"
    assert worker_wheel(loaded_source=WHEEL) == WHEEL


def test_installed_from_an_index_the_metadata_url_is_used_without_its_hash():
    # What micropip leaves after an install from an index that gives a sha256 (%pip in JupyterLite).
    installed = f"https://lite.test/pypi/{WHEEL}?sha256=0123abcd"
    assert worker_wheel(loaded_source="pypi", installed_url=installed) == f"https://lite.test/pypi/{WHEEL}"
    assert worker_wheel(loaded_source="pypi", installed_url=f"../files/{WHEEL}#sha256=99") == f"../files/{WHEEL}"


def test_installed_from_the_emscripten_file_system():
    assert worker_wheel(loaded_source=f"emfs:/tmp/{WHEEL}") == f"emfs:/tmp/{WHEEL}"
    assert worker_wheel(loaded_source="pypi", installed_url=f"emfs:/drive/{WHEEL}") == f"emfs:/drive/{WHEEL}"


def test_another_source_without_a_url_is_named_with_what_to_pass():
    with pytest.raises(WheelNotFoundError, match=r"installed from 'pypi' and its metadata records no URL.*"
                                                 r"pass WorkerPool\(wheel_url=\.\.\.\)"):
        worker_wheel(loaded_source="pypi")
    with pytest.raises(WheelNotFoundError, match="installed from 'my-channel'"):
        worker_wheel(loaded_source="my-channel", installed_url="")


def test_not_installed_by_any_loader_nor_in_the_lock_file():
    with pytest.raises(WheelNotFoundError, match="not in this Pyodide's loadedPackages nor in its lock file"):
        worker_wheel(loaded_source=None, lock_has_webpickle=False)
    assert worker_wheel(loaded_source=None, lock_has_webpickle=True) is None
    assert worker_wheel(loaded_source=None, installed_url=f"https://x.test/{WHEEL}?sha256=1") == f"https://x.test/{WHEEL}"


def test_wheel_url_wins_and_loses_its_query():
    assert worker_wheel(f"https://a.test/{WHEEL}?sha256=ff#frag", loaded_source="pypi") == f"https://a.test/{WHEEL}"
    assert worker_wheel(f"/w/{WHEEL}", loaded_source="default channel") == f"/w/{WHEEL}"


def test_a_location_that_is_not_a_wheel_is_refused():
    with pytest.raises(WheelNotFoundError, match=r"wheel_url gives 'https://a.test/simple/webpickle/'.*ends in \.whl"):
        worker_wheel("https://a.test/simple/webpickle/")
    with pytest.raises(WheelNotFoundError, match="PYODIDE_URL metadata"):
        worker_wheel(loaded_source="pypi", installed_url="https://a.test/download?file=webpickle.whl")


def test_without_query():
    assert without_query(f"https://a.test/p/{WHEEL}?sha256=1#x") == f"https://a.test/p/{WHEEL}"
    assert without_query(f"emfs:/tmp/{WHEEL}?sha256=1") == f"emfs:/tmp/{WHEEL}"
    assert without_query(f"/abs/{WHEEL}") == f"/abs/{WHEEL}"
