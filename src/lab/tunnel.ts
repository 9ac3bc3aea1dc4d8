/** What the server writes where it cannot know the login node (off Gadi, no $DASK_HPC_LOGIN_HOST). */
export const LOGIN_HOST_PLACEHOLDER = '<login-host>';

/** The tunnel command with the login host of the settings in place of the placeholder. */
export function tunnelCommand(serverCommand: string | null, loginHost: string): string {
  const command = serverCommand ?? '';
  const host = loginHost.trim();
  return host ? command.split(LOGIN_HOST_PLACEHOLDER).join(host) : command;
}

/** The toast after copying: how to use the command, and what to fill in when it has a placeholder. */
export function tunnelNotice(command: string): { message: string; type: 'success' | 'warning' } {
  const open = 'then open http://localhost:8787/status';
  if (command.includes(LOGIN_HOST_PLACEHOLDER)) {
    return {
      type: 'warning',
      message:
        `SSH tunnel command copied. Replace ${LOGIN_HOST_PLACEHOLDER} with the login node you ssh to ` +
        `(or set it once: Settings › Dask HPC › Login host), run it on your laptop, ${open}.`
    };
  }
  return { type: 'success', message: `SSH tunnel command copied: run it on your laptop, ${open}.` };
}
