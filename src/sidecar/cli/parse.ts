import { parseArgs } from 'node:util';

type FlagSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
/** The flags given, by name (a boolean, a string, or every value of a repeated flag), and the rest. */
export type Parsed<T extends FlagSpec> = {
  values: { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : T[K]['multiple'] extends true ? string[] : string };
  positionals: string[];
};

/** Exit 2 with one line: what was wrong and what would be right. */
export class UsageError extends Error {}

/** Parses a command's arguments strictly; a wrong flag is a UsageError. */
export function parse<T extends FlagSpec>(args: string[], options: T): Parsed<T> {
  // "--reserve-mem-gb -1" is a value, not an option: keep it for the value's own check to refuse.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const option = options[args[i].replace(/^--/, '')];
    if (option?.type === 'string' && /^-\d/.test(args[i + 1] ?? '')) joined.push(`${args[i]}=${args[++i]}`);
    else joined.push(args[i]);
  }
  try {
    return parseArgs({ args: joined, options, strict: true, allowPositionals: true }) as Parsed<T>;
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} See dask-hpc --help.`);
  }
}
