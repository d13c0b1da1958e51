#!/bin/sh
# Make the browser tests (tests/api/site/test_browser.py, marker `browser`) runnable: Debian's
# headless Chromium and its chromedriver, the selenium package in the virtual environment, and
# axe-core (the accessibility checker) from npm in the git-ignored folder .cache/axe-core.
# Installs what is missing when it can (apt-get as root, pip into .venv, npm); otherwise says in
# one line which browser tests will be skipped. Never fails the build.
#
#   sh scripts/ensure-browser.sh          # from the repository root (the Makefile's test target)
cd "$(dirname "$0")/.." || exit 0
BIN=${BIN:-.venv/bin}
AXE_DIR=.cache/axe-core

have_chromium() {
    { command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]; } &&
        { command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ]; }
}

if ! have_chromium; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing Debian's chromium and chromium-driver for the browser tests"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y -qq --no-install-recommends chromium chromium-driver \
            >/dev/null 2>&1; then
            apt-get update -qq >/dev/null 2>&1
            apt-get install -y -qq --no-install-recommends chromium chromium-driver \
                >/dev/null 2>&1
        fi
        have_chromium || echo "Could not install chromium: the browser tests will be skipped"
    else
        echo "No chromium (not root or no apt-get): the browser tests will be skipped"
    fi
fi

if [ -x "$BIN/python" ] && ! "$BIN/python" -c "import selenium" >/dev/null 2>&1; then
    echo "Installing selenium into $BIN for the browser tests"
    "$BIN/python" -m pip install --quiet "selenium>=4.20" >/dev/null 2>&1 ||
        echo "Could not install selenium: the browser tests will be skipped"
fi

if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
    if command -v npm >/dev/null 2>&1; then
        echo "Installing axe-core with npm into $AXE_DIR for the accessibility tests"
        mkdir -p "$AXE_DIR"
        npm install --silent --no-audit --no-fund --no-save --prefix "$AXE_DIR" axe-core@4 \
            >/dev/null 2>&1 ||
            echo "Could not install axe-core: the accessibility tests will be skipped"
    else
        echo "No npm: the accessibility tests (axe-core) will be skipped"
    fi
fi
exit 0
