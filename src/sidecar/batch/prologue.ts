import { InputError } from '../errors';

// A prologue line is one of the few things job scripts need before Dask starts. Words are
// plain (no quotes, spaces, ;, |, &, `, $( or redirections); `export` values may name
// variables ($PATH, ${HOME}).
const WORD = '[A-Za-z0-9_./+:@%,=~-]+';
const VALUE = '(?:[A-Za-z0-9_./+:@%,=~-]|\\$[A-Za-z_][A-Za-z0-9_]*|\\$\\{[A-Za-z_][A-Za-z0-9_]*\\})+';
const ALLOWED: RegExp[] = [
  new RegExp(`^module (load|unload|purge|use|swap|switch|add|rm)( ${WORD})*$`),
  new RegExp(`^(source|\\.) ${WORD}$`),
  new RegExp(`^(conda|mamba|micromamba) activate ${WORD}$`),
  new RegExp(`^export [A-Za-z_][A-Za-z0-9_]*=${VALUE}$`),
  new RegExp(`^cd ${WORD}$`)
];

/** The prologue lines, each one of the allowed forms; anything else is an InputError naming the line. */
export function checkPrologue(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some(line => typeof line !== 'string')) {
    throw new InputError(
      'worker_jobs.prologue',
      'worker_jobs.prologue must be a list of lines, like ["module load python3/3.11.7", "source /g/data/ab12/venv/bin/activate"]'
    );
  }
  const lines = (value as string[]).map(line => line.trim().replace(/\s+/g, ' ')).filter(line => line !== '');
  lines.forEach((line, index) => {
    if (!ALLOWED.some(shape => shape.test(line))) {
      throw new InputError(
        'worker_jobs.prologue',
        `worker_jobs.prologue line ${index + 1} ${JSON.stringify(line)} is not one of: module load|unload|purge|use|swap …, ` +
          'source PATH, . PATH, conda|mamba activate ENV, export NAME=VALUE, cd PATH (plain words; no quotes, ; | & ` $( or redirections)'
      );
    }
  });
  return lines;
}
