// Bundles the sidecar (engine + CLI) into ESM files that run with plain `node` and no
// node_modules: the Python package ships them. Two entries (src/sidecar/startup/README.md):
// the command (main.ts) and the engine (engine-main.ts), with chunks for what few commands
// need (the TLS library, ws).
import { build } from 'esbuild';
import { chmodSync, copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { LAUNCHER_HEAD } from '../src/sidecar/startup/launcher-head.mjs';

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
// The command: loads the engine, or starts a detached owner without loading it.
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
for (const name of ['lifeline.py', 'scheduler_queries.py', 'worker_connections.py', 'deferred_dashboard.py']) {
  copyFileSync(`src/sidecar/python/${name}`, `lib/python/${name}`);
}
mkdirSync(pythonPackageCopy, { recursive: true });
cpSync('lib/python', `${pythonPackageCopy}/python`, { recursive: true });
copyFileSync(outfile, `${pythonPackageCopy}/dask-hpc.mjs`);
copyFileSync(engineFile, `${pythonPackageCopy}/dask-hpc-engine.mjs`);
rmSync(`${pythonPackageCopy}/${engineChunks}`, { recursive: true, force: true });
cpSync(`lib/${engineChunks}`, `${pythonPackageCopy}/${engineChunks}`, { recursive: true, filter: path => !path.endsWith('.map') });
chmodSync(`${pythonPackageCopy}/dask-hpc.mjs`, 0o755);
