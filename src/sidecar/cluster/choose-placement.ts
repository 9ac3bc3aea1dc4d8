import type { ClusterSpec } from './cluster-spec';
import { LocalWorkers } from './local-workers';
import type { PlacementContext, WorkerPlacement } from './placement';
import { RunnerNodes } from './runner-nodes';
import { WorkerJobs } from './worker-jobs';

/** The placement a spec asks for: batch jobs, the current job's nodes, or this node. */
export function choosePlacement(spec: ClusterSpec, context: PlacementContext): WorkerPlacement {
  if (spec.workerJobs) return new WorkerJobs(context, spec.workerJobs);
  if (spec.runner) return new RunnerNodes(context, spec.runner);
  return new LocalWorkers(context);
}
