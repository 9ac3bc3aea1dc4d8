import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSecurity } from '../../common/protocol';
import { clusterSecurityFiles, writeClusterCertificates } from '../tls/cluster-tls';
import { removeTree } from '../state/state-store';

/**
 * A cluster's TLS files made ahead of it: making them (the X.509 library's load, two keys, two
 * signatures) takes CPU from the scheduler and workers starting beside it. So once a cluster runs, its owner makes
 * the next cluster's set into this directory (0700, in the state directory), and the next
 * cluster, of any owner of this user, takes it whole with one rename: no set serves two
 * clusters, each cluster still has a CA of its own, and the CA's key is never written.
 * A waiting key belongs to no cluster yet, so it waits an hour at most: the first cluster
 * after an idle hour makes its own, as every cluster did before.
 */
export const AHEAD_DIRECTORY = 'tls-ahead';
const MAX_WAIT_MS = 3_600_000;
/** A set half written (its owner ended while writing it) older than this is thrown away. */
const UNFINISHED_MAX_AGE_MS = 60_000;
/** Nodes sharing the home directory may make sets; a clock this far ahead of ours is believed. */
const CLOCK_SKEW_MS = 60_000;
const FINISHED = /^(\d+)-[0-9a-f]+$/;
const UNFINISHED = /^\.making-(\d+)-[0-9a-f]+$/;

/** The cluster's TLS files in `directory`: a set made ahead if a sound one waits, else made now. */
export async function takeOrWriteCertificates(aheadDirectory: string | null, directory: string): Promise<ClusterSecurity> {
  if (aheadDirectory) {
    for (const entry of setsReady(aheadDirectory)) {
      try {
        renameSync(join(aheadDirectory, entry), directory);
      } catch {
        continue; // another cluster took it first
      }
      const files = clusterSecurityFiles(directory);
      if (isSound(files)) return files;
      removeTree(directory); // cut short (a crash, a full disk): this cluster makes its own
      break;
    }
  }
  return writeClusterCertificates(directory);
}

/** Makes one set for the next cluster unless one is waiting. Failures are harmless: that cluster makes its own. */
export async function writeCertificatesAhead(aheadDirectory: string): Promise<void> {
  try {
    if (setsByAge(aheadDirectory).length > 0) return;
    const suffix = randomBytes(4).toString('hex');
    const unfinished = join(aheadDirectory, `.making-${Date.now()}-${suffix}`);
    await writeClusterCertificates(unfinished);
    renameSync(unfinished, join(aheadDirectory, `${Date.now()}-${suffix}`)); // whole, or not there
  } catch {
    // a full disk or a read-only state directory: the next cluster makes its own
  }
}

/** The three files are there, the certificate is the CA's and the key is the certificate's. */
function isSound(files: ClusterSecurity): boolean {
  try {
    const ca = new X509Certificate(readFileSync(files.tls_ca_file));
    const certificate = new X509Certificate(readFileSync(files.tls_cert));
    return certificate.verify(ca.publicKey) && certificate.checkPrivateKey(createPrivateKey(readFileSync(files.tls_key)));
  } catch {
    return false;
  }
}

/** The finished sets; none if the directory cannot be read (then the cluster makes its own). */
function setsReady(aheadDirectory: string): string[] {
  try {
    return setsByAge(aheadDirectory);
  } catch {
    return [];
  }
}

/** The finished sets, oldest first; stale and abandoned ones are removed on the way. */
function setsByAge(aheadDirectory: string): string[] {
  mkdirSync(aheadDirectory, { recursive: true, mode: 0o700 });
  chmodSync(aheadDirectory, 0o700); // one made looser by hand is tightened: it holds keys
  const now = Date.now();
  const fresh: [number, string][] = [];
  for (const entry of readdirSync(aheadDirectory)) {
    const finished = FINISHED.exec(entry);
    const unfinished = UNFINISHED.exec(entry);
    const age = now - Number((finished ?? unfinished)?.[1] ?? 0);
    if (finished && age > -CLOCK_SKEW_MS && age < MAX_WAIT_MS) fresh.push([age, entry]);
    else if (!unfinished || age > UNFINISHED_MAX_AGE_MS || age < -CLOCK_SKEW_MS) removeTree(join(aheadDirectory, entry));
  }
  return fresh.sort((a, b) => b[0] - a[0]).map(([, entry]) => entry);
}
