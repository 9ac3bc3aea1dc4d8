/** The launch form's labels, by the API field each one sets. */
export const FIELD_LABELS: Record<string, string> = {
  max_workers: 'Max workers',
  reserve_mem_gb: 'Reserve (GiB)',
  max_mem_gb: 'Max memory (GiB)',
  name: 'Name',
  'thresholds.target': 'Target',
  'thresholds.spill': 'Spill',
  'thresholds.pause': 'Pause',
  'thresholds.terminate': 'Terminate',
  'worker_jobs.nodes': 'Nodes per job',
  'worker_jobs.cores': 'Cores per job',
  'worker_jobs.memory_gb': 'Memory per job (GiB)',
  'worker_jobs.walltime': 'Walltime',
  'worker_jobs.queue': 'Queue',
  'worker_jobs.account': 'Account',
  'worker_jobs.jobfs_gb': 'Jobfs (GiB)',
  'worker_jobs.storage': 'Storage',
  'worker_jobs.prologue': 'Prologue',
  'worker_jobs.interface': 'Network interface',
  'worker_jobs.jobs': 'Jobs to submit',
  worker_jobs: 'Workers on other nodes',
  runner: 'Workers run'
};

/** The API's names of fields, longest first, as they may appear in a message (`worker_jobs.cores` or `cores`). */
const NAMES = Object.keys(FIELD_LABELS)
  .flatMap(field => [field, field.split('.').pop()!])
  .filter(name => name.includes('_') || name.includes('.'))
  .sort((a, b) => b.length - a.length);

const labelOf = (name: string) => FIELD_LABELS[name] ?? FIELD_LABELS[`worker_jobs.${name}`] ?? FIELD_LABELS[`thresholds.${name}`];

/** An engine message in the form's words: each API field name becomes the label the user sees. */
export function inFormWords(message: string): string {
  if (NAMES.length === 0) return message;
  const pattern = new RegExp(`\\b(${NAMES.map(name => name.replace('.', '\\.')).join('|')})\\b(=?)`, 'g');
  return message.replace(pattern, (_, name: string, equals: string) => `“${labelOf(name)}”${equals ? ' ' : ''}`);
}
