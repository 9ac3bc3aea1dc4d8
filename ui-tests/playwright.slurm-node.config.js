// The same server and browser as playwright.config.js, for specs whose Jupyter server runs
// inside a pretend Slurm job (scripts/ui-test.sh sets the job's variables).
module.exports = { ...require('./playwright.config.js'), testDir: './slurm-node' };
