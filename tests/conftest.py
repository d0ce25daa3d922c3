"""Shared fixtures: one real sandbox per session, fast real retries, clean env, hypothesis profiles."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stamina
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """A real Selldone sandbox on loopback for the whole session, with a generous budget."""
    from filebridge.sandbox import start_sandbox

    box = start_sandbox(host="127.0.0.1", port=0, rate_per_minute=100_000)
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _fresh_sandbox(request: pytest.FixtureRequest) -> None:
    """Each test that uses the sandbox starts from the seeded shop with no faults armed."""
    if "sandbox" in request.fixturenames:
        box = request.getfixturevalue("sandbox")
        box.reset()
        box.set_rate_limit(100_000)


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    """Retries stay real but have no backoff and a bounded number of attempts."""
    stamina.set_testing(True, attempts=4)
    yield
    stamina.set_testing(False)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's SELLDONE_*/FILEBRIDGE_* variables never leak into a test."""
    for key in [k for k in os.environ if k.startswith(("FILEBRIDGE_", "SELLDONE_"))]:
        monkeypatch.delenv(key)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll a condition with a deadline instead of sleeping to synchronise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture(autouse=True)
def _no_thread_leaks() -> Iterator[None]:
    """A test must not leave observers or workers running (non-daemon threads)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    leaked = [
        t
        for t in threading.enumerate()
        if t.ident not in before and t.is_alive() and not t.daemon
    ]
    for thread in leaked:
        thread.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads leaked by this test: {still}"
