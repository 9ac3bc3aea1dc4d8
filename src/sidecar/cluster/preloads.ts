import { fileURLToPath } from 'node:url';

/** A Python scheduler preload shipped beside the bundled sidecar (scripts/bundle-sidecar.mjs copies them). */
export function preloadPath(name: 'lifeline' | 'deferred_dashboard'): string {
  return fileURLToPath(new URL(`./python/${name}.py`, import.meta.url));
}
