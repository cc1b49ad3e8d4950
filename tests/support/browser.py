"""Debian's chromium, headless, driven by selenium through chromedriver: the dashboard's real browser.

The flags are what a closed network needs: without them chromium tries to reach Google's services
(component updates, sync, QUIC probes) and hangs on connections that never open. A fresh profile per
run keeps one test's cookies and cache out of the next.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


class NoBrowser(RuntimeError):
    """chromium or chromedriver is not installed (`bash .ci/setup --tests` installs both as root)."""


def headless_chromium(profile: Path, *, width: int = 1400, height: int = 1200) -> webdriver.Chrome:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        raise NoBrowser("chromium and chromedriver are needed: run `bash .ci/setup --tests` as root, or apt-get them")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))
