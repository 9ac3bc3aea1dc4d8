import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeClusterCertificates } from '../../tls/cluster-tls';

const mode = (path: string) => statSync(path).mode & 0o777;

test('a cluster gets its own authority, and a certificate it signed for servers and clients, in private files', async () => {
  const directory = join(mkdtempSync(join(tmpdir(), 'tls-')), 'abcd1234.tls');
  const files = await writeClusterCertificates(directory);
  expect(mode(directory)).toBe(0o700);
  for (const path of Object.values(files)) expect(mode(path)).toBe(0o600);

  const ca = new X509Certificate(readFileSync(files.tls_ca_file));
  const certificate = new X509Certificate(readFileSync(files.tls_cert));
  expect(ca.ca).toBe(true);
  expect(certificate.ca).toBe(false);
  expect(certificate.checkIssued(ca)).toBe(true);
  expect(certificate.verify(ca.publicKey)).toBe(true);
  expect(certificate.checkPrivateKey(createPrivateKey(readFileSync(files.tls_key)))).toBe(true);
  expect(certificate.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])); // server and client auth

  const other = await writeClusterCertificates(join(directory, '..', 'ffff0000.tls'));
  expect(certificate.verify(new X509Certificate(readFileSync(other.tls_ca_file)).publicKey)).toBe(false);
});
