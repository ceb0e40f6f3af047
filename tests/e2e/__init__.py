"""End-to-end tests in Debian's headless Chromium (Playwright), against the app on loopback."""
