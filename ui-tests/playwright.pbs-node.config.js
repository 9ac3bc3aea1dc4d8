// The same server and browser as playwright.config.js, for specs whose Jupyter server runs
// inside a pretend PBS job whose qstat is pbs-node/bin/qstat (scripts/ui-test.sh sets both).
module.exports = { ...require('./playwright.config.js'), testDir: './pbs-node' };
