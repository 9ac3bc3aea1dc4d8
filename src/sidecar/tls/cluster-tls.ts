import type * as X509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSecurity } from '../../common/protocol';

// The library's key types are the DOM's; Node's webcrypto keys are the same objects.
type SelfSignedKeys = Parameters<typeof X509.X509CertificateGenerator.createSelfSigned>[0]['keys'];
type SigningKey = SelfSignedKeys['privateKey'];

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
/** Longer than any batch job's walltime; the files go with the cluster anyway. */
const VALID_DAYS = 400;

/** Where a cluster's certificate authority, certificate and key live: a 0700 directory of its own. */
export function clusterSecurityFiles(directory: string): ClusterSecurity {
  return {
    tls_ca_file: join(directory, 'ca.pem'),
    tls_cert: join(directory, 'cert.pem'),
    tls_key: join(directory, 'key.pem')
  };
}

/**
 * A new certificate authority for one cluster, and one certificate it signs for the
 * scheduler, the workers and the clients alike (Dask checks the CA, not host names). Only
 * holders of the key, this user, can join or use the cluster; the CA's own key is never
 * written, so nothing else can be signed by it.
 */
export async function writeClusterCertificates(directory: string): Promise<ClusterSecurity> {
  const x509 = await loadX509();
  const files = clusterSecurityFiles(directory);
  // Nodes' clocks differ, and a set may be made ahead on another node that shares the home directory.
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + VALID_DAYS * 86_400_000);
  const caKeys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: 'CN=dask-hpc cluster CA',
    notBefore,
    notAfter,
    keys: caKeys as unknown as SelfSignedKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)
    ]
  });
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: 'CN=dask-hpc cluster member',
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingKey: caKeys.privateKey as unknown as SigningKey,
    publicKey: keys.publicKey as unknown as SigningKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth])
    ]
  });
  const privateKey = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  writeFileSync(files.tls_ca_file, ca.toString('pem'), { mode: 0o600 });
  writeFileSync(files.tls_cert, certificate.toString('pem'), { mode: 0o600 });
  writeFileSync(files.tls_key, x509.PemConverter.encode(privateKey, 'PRIVATE KEY'), { mode: 0o600 });
  return files;
}

/**
 * The X.509 library, loaded at the first cluster: an idle sidecar does not pay its memory.
 * Its dependency injection needs the Reflect metadata API first.
 */
async function loadX509(): Promise<typeof X509> {
  await import('reflect-metadata');
  const loaded: typeof X509 & { default?: typeof X509 } = await import('@peculiar/x509');
  // The bundle's chunk of this CommonJS library gives it as the default export.
  const x509 = loaded.default ?? loaded;
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

function randomSerial(): string {
  // Positive: the first byte's high bit is clear.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  return Buffer.from(bytes).toString('hex');
}

/** The dask scheduler / dask worker flags that make them speak TLS with the cluster's files. */
export function tlsFlags(security: ClusterSecurity): string[] {
  return ['--tls-ca-file', security.tls_ca_file, '--tls-cert', security.tls_cert, '--tls-key', security.tls_key];
}

/**
 * The same through Dask's configuration variables: for a client (`dask-hpc run`), and for a
 * scheduler or worker, since unlike the flags (which `dask` checks exist as it parses them)
 * these are read when the process first listens or connects, so it may start before the
 * files are written (see Cluster.start).
 */
export function tlsEnvironment(security: ClusterSecurity, role: 'client' | 'scheduler' | 'worker'): Record<string, string> {
  const prefix = `DASK_DISTRIBUTED__COMM__TLS__${role.toUpperCase()}`;
  return {
    DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION: 'True',
    DASK_DISTRIBUTED__COMM__TLS__CA_FILE: security.tls_ca_file,
    [`${prefix}__CERT`]: security.tls_cert,
    [`${prefix}__KEY`]: security.tls_key
  };
}
