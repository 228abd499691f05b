"""pytest configuration for the Python tests (natively; tests/pyodide/ runs them in Pyodide)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "native_only(reason): cannot run inside Pyodide (subprocesses, for example)"
    )
