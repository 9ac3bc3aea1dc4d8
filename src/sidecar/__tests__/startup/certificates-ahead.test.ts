import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeOrWriteCertificates, writeCertificatesAhead } from '../../startup/certificates-ahead';

const mode = (path: string) => statSync(path).mode & 0o777;
const caOf = (files: { tls_ca_file: string }) => readFileSync(files.tls_ca_file, 'utf8');

function stateDirectory(): { ahead: string; tls: (id: string) => string } {
  const state = mkdtempSync(join(tmpdir(), 'ahead-'));
  return { ahead: join(state, 'tls-ahead'), tls: id => join(state, `${id}.tls`) };
}

test('a set made ahead goes whole to one cluster; the next cluster makes its own', async () => {
  const { ahead, tls } = stateDirectory();
  await writeCertificatesAhead(ahead);
  await writeCertificatesAhead(ahead); // one waiting is enough
  expect(readdirSync(ahead)).toHaveLength(1);
  expect(mode(ahead)).toBe(0o700);
  const waiting = readFileSync(join(ahead, readdirSync(ahead)[0], 'ca.pem'), 'utf8');

  const first = await takeOrWriteCertificates(ahead, tls('aaaa0001'));
  expect(caOf(first)).toBe(waiting);
  expect(readdirSync(ahead)).toEqual([]);
  expect(mode(tls('aaaa0001'))).toBe(0o700);
  for (const path of Object.values(first)) expect(mode(path)).toBe(0o600);

  const second = await takeOrWriteCertificates(ahead, tls('aaaa0002'));
  expect(caOf(second)).not.toBe(caOf(first));
  const certificate = new X509Certificate(readFileSync(second.tls_cert));
  expect(certificate.verify(new X509Certificate(caOf(first)).publicKey)).toBe(false);
});

test('stale, abandoned and future sets are thrown away, a set still being made is left alone', async () => {
  const { ahead, tls } = stateDirectory();
  const hour = 3_600_000;
  const names = [
    `${Date.now() - 2 * hour}-0a0a0a0a`,
    `.making-${Date.now() - 120_000}-0b0b0b0b`,
    `.making-${Date.now()}-0c0c0c0c`,
    `${Date.now() + hour}-0d0d0d0d`
  ];
  for (const name of names) {
    mkdirSync(join(ahead, name), { recursive: true });
    writeFileSync(join(ahead, name, 'ca.pem'), 'not this one');
  }
  const files = await takeOrWriteCertificates(ahead, tls('bbbb0001'));
  expect(caOf(files)).toContain('BEGIN CERTIFICATE');
  expect(readdirSync(ahead)).toEqual([expect.stringMatching(/^\.making-\d+-0c0c0c0c$/)]);
});

test('without a directory for sets made ahead, every cluster makes its own', async () => {
  const { tls } = stateDirectory();
  const files = await takeOrWriteCertificates(null, tls('cccc0001'));
  expect(new X509Certificate(readFileSync(files.tls_cert)).ca).toBe(false);
});

test('a directory for sets made ahead that cannot be used does not stop a cluster', async () => {
  const { ahead, tls } = stateDirectory();
  writeFileSync(ahead, 'a file where the directory should be');
  const files = await takeOrWriteCertificates(ahead, tls('dddd0001'));
  expect(new X509Certificate(readFileSync(files.tls_cert)).ca).toBe(false);
  await writeCertificatesAhead(ahead); // and making one is given up quietly
  expect(readFileSync(ahead, 'utf8')).toBe('a file where the directory should be');
});

test('a set cut short is not used: the cluster makes its own and the set is gone', async () => {
  const { ahead, tls } = stateDirectory();
  await writeCertificatesAhead(ahead);
  const [waiting] = readdirSync(ahead);
  writeFileSync(join(ahead, waiting, 'key.pem'), ''); // as after a crash before the data reached the disk
  const files = await takeOrWriteCertificates(ahead, tls('eeee0001'));
  const certificate = new X509Certificate(readFileSync(files.tls_cert));
  expect(certificate.checkPrivateKey(createPrivateKey(readFileSync(files.tls_key)))).toBe(true);
  expect(readdirSync(ahead)).toEqual([]);
});
