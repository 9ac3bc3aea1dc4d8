import { fileURLToPath } from 'node:url';

/** The Python preload shipped beside the bundled sidecar (scripts/bundle-sidecar.mjs copies it). */
export function lifelinePreloadPath(): string {
  return fileURLToPath(new URL('./python/lifeline.py', import.meta.url));
}
