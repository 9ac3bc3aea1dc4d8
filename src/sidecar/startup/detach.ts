import { spawn } from 'node:child_process';
import { openSync, readFileSync, rmSync } from 'node:fs';
import { nodeStartEnvironment } from './node-start-env';

/**
 * `up --detach`: the owner (`engineScript up ARGS`) runs on in its own session; this prints
 * its cluster once it is ready, or its error and exit status. The owner gets no V8 flags
 * (README.md in this folder says why).
 */
export async function upDetached(args: string[], engineScript: string, runtimeDir: string): Promise<number> {
  // In this node's runtime directory: a pid names this process on this node only.
  const logPath = `${runtimeDir}/owner-${process.pid}.log`;
  const child = spawn(process.execPath, [engineScript, 'up', ...args], {
    detached: true,
    env: nodeStartEnvironment(process.env),
    stdio: ['ignore', 'pipe', openSync(logPath, 'w', 0o600)]
  });
  let output = '';
  const childOut = child.stdout!;
  const outcome = await new Promise<'ready' | number>(resolve => {
    childOut.on('data', chunk => {
      output += chunk;
      if (/^}\s*$/m.test(output)) resolve('ready'); // the description is printed whole, then nothing more
    });
    child.on('exit', code => resolve(code ?? 1));
  });
  if (outcome === 'ready') {
    process.stdout.write(output);
    childOut.destroy();
    child.unref();
    rmSync(logPath, { force: true });
    return 0;
  }
  process.stderr.write(readFileSync(logPath, 'utf8'));
  rmSync(logPath, { force: true });
  return outcome;
}
