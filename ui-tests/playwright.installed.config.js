// The dashboard tab in JupyterLab from a fresh pip install (tests/test_install.py starts that
// server, node hidden, and runs this): no webServer of its own, the server's URL from the test.
const base = require('./playwright.config.js');

module.exports = {
  ...base,
  testMatch: 'installed.spec.ts',
  use: { ...base.use, baseURL: process.env.DASK_HPC_INSTALLED_URL },
  webServer: undefined
};
