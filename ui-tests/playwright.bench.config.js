// The same server and browser as playwright.config.js, for the sidebar benchmark
// (bench/run.sh --sidebar); not part of the tests.
module.exports = { ...require('./playwright.config.js'), testDir: './bench', timeout: 3600000 };
