// Bundles the sidecar (engine + CLI) into ESM files that run with plain `node` and no
// node_modules: the Python package ships them (DESIGN.md, issue 3). The engine is one entry
// file plus chunks for what few commands need (the TLS library, ws): `up` starts sooner
// without parsing them.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';

const outfile = 'lib/dask-hpc.mjs';
const engineFile = 'lib/dask-hpc-engine.mjs';
const engineChunks = 'engine-chunks';
// The Python package ships the same files, so pip install needs no npm at run time.
const pythonPackageCopy = 'jupyterlab_dask_hpc/_sidecar';
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning'
};
// The engine: everything the commands do.
rmSync(`lib/${engineChunks}`, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { 'dask-hpc-engine': 'src/sidecar/engine-main.ts' },
  outdir: 'lib',
  splitting: true,
  chunkNames: `${engineChunks}/[name]-[hash]`,
  outExtension: { '.js': '.mjs' },
  // ws loads these optional native helpers with require() inside try/catch.
  external: ['bufferutil', 'utf-8-validate'],
  banner: {
    js: ["import { createRequire as __createRequire } from 'node:module';", 'const require = __createRequire(import.meta.url);'].join('\n')
  }
});
// The command's first lines are sh and JavaScript at once (to node, a string and a comment).
// Run as a command, sh starts node without NODE_EXTRA_CA_CERTS, which Node would parse before
// any of our code runs (36 ms here), under the name the engine restores it from for the
// processes it starts (src/sidecar/startup/node-start-env.ts). The arguments pass through "$@" untouched.
const LAUNCHER_HEAD = [
  '#!/bin/sh',
  '":" //; [ -n "${NODE_EXTRA_CA_CERTS+x}" ] && export DASK_HPC_DEFERRED_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS" && unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"'
].join('\n');
// The command: a launcher that loads the engine, or starts a detached owner before loading it.
await build({
  ...common,
  entryPoints: ['src/sidecar/main.ts'],
  outfile,
  external: ['./dask-hpc-engine.mjs'],
  banner: { js: LAUNCHER_HEAD }
});
chmodSync(outfile, 0o755);
// The Python helpers the spawned Dask processes preload live beside the bundle.
mkdirSync('lib/python', { recursive: true });
for (const name of ['lifeline.py', 'scheduler_queries.py', 'deferred_dashboard.py']) {
  copyFileSync(`src/sidecar/python/${name}`, `lib/python/${name}`);
}
mkdirSync(pythonPackageCopy, { recursive: true });
cpSync('lib/python', `${pythonPackageCopy}/python`, { recursive: true });
copyFileSync(outfile, `${pythonPackageCopy}/dask-hpc.mjs`);
copyFileSync(engineFile, `${pythonPackageCopy}/dask-hpc-engine.mjs`);
rmSync(`${pythonPackageCopy}/${engineChunks}`, { recursive: true, force: true });
cpSync(`lib/${engineChunks}`, `${pythonPackageCopy}/${engineChunks}`, { recursive: true, filter: path => !path.endsWith('.map') });
chmodSync(`${pythonPackageCopy}/dask-hpc.mjs`, 0o755);
