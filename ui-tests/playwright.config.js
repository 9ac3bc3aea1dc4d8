// UI tests in real JupyterLab and Debian's Chromium (/usr/bin/chromium): a test tool's own
// browser download cannot work here. Settings follow Galata's (its npm package could not be
// installed from this registry; see README).
const port = Number(process.env.UI_TESTS_PORT || 8899);

module.exports = {
  testDir: './tests',
  timeout: 180000,
  expect: { timeout: 60000, toHaveScreenshot: { maxDiffPixelRatio: 0.03 } },
  // A fresh machine writes the snapshots it lacks instead of failing on them.
  updateSnapshots: 'missing',
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: 'bash ./start-jupyter.sh',
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120000,
    reuseExistingServer: false,
    env: { UI_TESTS_PORT: String(port) }
  }
};
