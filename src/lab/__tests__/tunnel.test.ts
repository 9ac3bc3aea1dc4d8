import { tunnelCommand, tunnelNotice } from '../tunnel';

const offGadi = 'ssh -N -L 8787:127.0.0.1:41234 -J <login-host> node7';

test('the login host of the settings replaces the placeholder, and the toast then only says how to use it', () => {
  const command = tunnelCommand(offGadi, ' login.example.edu ');
  expect(command).toBe('ssh -N -L 8787:127.0.0.1:41234 -J login.example.edu node7');
  expect(tunnelNotice(command)).toEqual({ type: 'success', message: expect.stringContaining('http://localhost:8787/status') });
});

test('without a login host the command keeps the placeholder and the toast says what to replace and where to set it', () => {
  const command = tunnelCommand(offGadi, '');
  expect(command).toBe(offGadi);
  const notice = tunnelNotice(command);
  expect(notice.type).toBe('warning');
  expect(notice.message).toContain('Replace <login-host> with the login node you ssh to');
  expect(notice.message).toContain('Settings › Dask HPC › Login host');
});

test('a Gadi command is left as the server wrote it', () => {
  const gadi = 'ssh -N -L 8787:127.0.0.1:41234 -J gadi.nci.org.au gadi-cpu-clx-0123';
  expect(tunnelCommand(gadi, 'other.host')).toBe(gadi);
});
