import { ClusterStartError, errorLine, InputError, NotFoundError } from '../errors';
import { detectResources } from '../node/detect';
import { withJobfsUse } from '../node/jobfs-use';
import { planCluster } from '../node/plan';
import { parsePlanRequest } from '../requests/plan-request';
import { rootFlag, type FlagValues } from '../requests/flag-checks';
import { env } from './environment';
import { asFlagError, PLAN_FLAGS, planBodyFromFlags } from './flags';
import { printPlan, printResources } from './output';
import { jobScript, run, serve, up } from './owner-commands';
import { parse, UsageError } from './parse';
import { adapt, down, ls, paths, scale } from './record-commands';
import { USAGE } from './usage';

function planFromFlags(values: FlagValues) {
  const body = planBodyFromFlags(values);
  try {
    const resources = detectResources({ env, root: rootFlag(values) });
    return planCluster(resources, parsePlanRequest(body));
  } catch (error) {
    throw error instanceof InputError ? asFlagError(error) : error;
  }
}

/** Runs one command; `engineScript` is this engine's file, which `up --detach` starts again. */
export async function main(argv: string[], engineScript: string): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'detect':
        {
          const { values } = parse(args, { json: PLAN_FLAGS.json, root: PLAN_FLAGS.root });
          printResources(withJobfsUse(detectResources({ env, root: rootFlag(values) })), values.json);
        }
        return 0;
      case 'plan':
        {
          const { values } = parse(args, PLAN_FLAGS);
          printPlan(planFromFlags(values), values.json);
        }
        return 0;
      case 'up':
        return await up(args, engineScript);
      case 'ls':
        return ls(args);
      case 'down':
        return await down(args);
      case 'scale':
        return await scale(args);
      case 'adapt':
        return await adapt(args);
      case 'run':
        return await run(args);
      case 'serve':
        return await serve(args);
      case 'job-script':
        return jobScript(args);
      case 'paths':
        return paths(args);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(
          `unknown command ${JSON.stringify(command)}; the commands are detect, plan, up, ls, down, scale, adapt, run, job-script, serve, paths`
        );
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof InputError) {
      process.stderr.write(errorLine(error.message));
      return 2;
    }
    if (error instanceof NotFoundError || error instanceof ClusterStartError) {
      process.stderr.write(errorLine(error.message));
      return 1;
    }
    // Not the user's doing: one line and the way to more, unless asked for the whole trace.
    if (env.DASK_HPC_DEBUG) process.stderr.write(`dask-hpc: ${(error as Error).stack ?? error}\n`);
    else process.stderr.write(errorLine(`${(error as Error).message ?? error} (unexpected; DASK_HPC_DEBUG=1 shows where it happened)`));
    return 1;
  }
}
