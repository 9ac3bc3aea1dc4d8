import * as React from 'react';
import { describeSpillCap, describeTopology, formatBytes } from '../../common/format';
import type { BatchSystem, ClusterState, JobRequest, Plan, Workload } from '../../common/protocol';
import type { ApiError } from '../api';
import type { JobScriptPreview } from '../model';
import {
  initialWorkerJobFields,
  perNodeLabels,
  prefillFromJob,
  workerJobsBody,
  type Placement,
  type WorkerJobFields
} from '../worker-jobs';
import { FIELD_LABELS, inFormWords } from '../form-labels';
import { WorkerJobsFields } from './WorkerJobsFields';

const WORKLOAD_HINTS: Record<Workload, string> = {
  cpu: 'Heavy maths (NumPy, xarray reductions): a worker per core, one thread each.',
  io: 'Opening many NetCDF/Zarr files: one worker with 8–16 threads.',
  mixed: 'Pipelines that read and compute: two threads per worker.'
};

export interface LaunchDefaults {
  workload: Workload;
  maxWorkers: number | null;
  reserveMemGb: number | null;
}

interface Props {
  defaults: LaunchDefaults;
  /** The batch system this JupyterLab runs under: it offers runner mode and picks the job system. */
  batchSystem: BatchSystem | undefined;
  /** The job this JupyterLab runs in, as its batch system reports it: its project, queue and storage prefill the worker-job fields. */
  job?: JobRequest | null;
  /** Clusters running with workers on this node: a new plan gets what they leave, unless the user shares the node anyway. */
  clustersHere: number;
  /** What the clusters on this node hold now (changes when one starts, scales or stops): the preview is asked again. */
  nodeShare: string;
  /** Why runner mode cannot run here (the engine's word), or null when it can: the option is greyed out then. */
  runnerUnavailable: string | null;
  /** The server's plan for a request, its worker-job script, and the launch: the model's calls. */
  plan: (body: unknown) => Promise<Plan>;
  jobScript: (body: unknown) => Promise<JobScriptPreview>;
  launch: (body: unknown) => Promise<ClusterState>;
}

interface Fields {
  workload: Workload;
  max_workers: string;
  reserve_mem_gb: string;
  max_mem_gb: string;
  name: string;
  target: string;
  spill: string;
  pause: string;
  terminate: string;
}

const PREVIEW_DELAY_MS = 250;

/** The plan part of the request the fields describe; empty fields are left to the plan's defaults. */
function planBody(fields: Fields): Record<string, unknown> {
  const body: Record<string, unknown> = { workload: fields.workload };
  const number = (text: string) => (text.trim() === '' ? undefined : Number(text));
  for (const key of ['max_workers', 'reserve_mem_gb', 'max_mem_gb'] as const) {
    if (number(fields[key]) !== undefined) body[key] = number(fields[key]);
  }
  const thresholds: Record<string, number> = {};
  for (const key of ['target', 'spill', 'pause', 'terminate'] as const) {
    const value = number(fields[key]);
    if (value !== undefined) thresholds[key] = value;
  }
  if (Object.keys(thresholds).length) body.thresholds = thresholds;
  return body;
}

/** What the plan's workers are counted per: a job of several hosts has them on each host. */
function topologyLead(placement: Placement, jobFields: WorkerJobFields): string {
  if (placement === 'runner') return 'Each node: ';
  if (placement !== 'jobs') return '';
  return perNodeLabels(jobFields) ? 'Each host of a job: ' : 'Each job: ';
}

/** The launch form, with a plan preview from the engine that follows every keystroke. */
export function LaunchForm({
  defaults,
  batchSystem,
  job,
  clustersHere,
  nodeShare,
  runnerUnavailable,
  plan: planOf,
  jobScript: jobScriptOf,
  launch: launchCluster
}: Props): JSX.Element {
  const [fields, setFields] = React.useState<Fields>({
    workload: defaults.workload,
    max_workers: defaults.maxWorkers?.toString() ?? '',
    reserve_mem_gb: defaults.reserveMemGb?.toString() ?? '',
    max_mem_gb: '',
    name: '',
    target: '',
    spill: '',
    pause: '',
    terminate: ''
  });
  const [placement, setPlacement] = React.useState<Placement>('here');
  const [jobFields, setJobFields] = React.useState<WorkerJobFields>(() => initialWorkerJobFields(batchSystem));
  const [plan, setPlan] = React.useState<Plan | null>(null);
  const [jobScript, setJobScript] = React.useState<string | null>(null);
  const [error, setError] = React.useState<ApiError | null>(null);
  const [launching, setLaunching] = React.useState(false);
  const [overcommit, setOvercommit] = React.useState(false);
  /** Fields the user typed in: only these are marked red (a field not yet filled is not wrong yet). */
  const [touched, setTouched] = React.useState<ReadonlySet<string>>(new Set());
  /** Fields whose text the browser cannot read as a number ("1e"): refused here, never sent as empty. */
  const [unreadable, setUnreadable] = React.useState<ReadonlySet<string>>(new Set());
  const touch = (field: string) => setTouched(previous => new Set(previous).add(field));
  // On every input event: React's onChange skips "1e" → "" (the value it sees stays "").
  const checkReadable = (field: string) => (event: React.FormEvent<HTMLInputElement>) => {
    const badInput = event.currentTarget.validity.badInput;
    touch(field);
    setUnreadable(previous => {
      const next = new Set(previous);
      if (badInput) next.add(field);
      else next.delete(field);
      return next;
    });
  };
  const jobSystemChosen = React.useRef(false);
  const changeJobFields = (next: WorkerJobFields) => {
    for (const key of Object.keys(next) as (keyof WorkerJobFields)[]) if (next[key] !== jobFields[key]) touch(`worker_jobs.${key}`);
    if (next.system !== jobFields.system) jobSystemChosen.current = true;
    setJobFields(next);
  };
  // The node's batch system may arrive after the form first shows: it is the default until the user picks one.
  React.useEffect(() => {
    if (batchSystem && !jobSystemChosen.current) {
      setJobFields(fields => ({ ...fields, system: initialWorkerJobFields(batchSystem).system }));
    }
  }, [batchSystem]);
  // The job's request arrives with the resources; it fills only fields still empty.
  React.useEffect(() => {
    if (job) setJobFields(fields => prefillFromJob(fields, job));
  }, [job?.id]);

  /** The whole request: the plan, and where the workers run. */
  const requestBody = (): Record<string, unknown> => {
    const body = planBody(fields);
    if (placement === 'jobs') body.worker_jobs = workerJobsBody(jobFields);
    if (placement === 'runner') body.runner = true;
    if (overcommit) body.overcommit = true;
    // Sent with the preview too: the engine checks the name as it is typed.
    if (fields.name.trim()) body.name = fields.name.trim();
    return body;
  };

  React.useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      // With worker jobs, the preview is the job script and each job's plan.
      const preview: Promise<JobScriptPreview> =
        placement === 'jobs' ? jobScriptOf(requestBody()) : planOf(requestBody()).then(plan => ({ plan, script: '' }));
      preview.then(
        answer => current && (setPlan(answer.plan), setJobScript(answer.script || null), setError(null)),
        failure => current && (setPlan(null), setJobScript(null), setError(failure as ApiError))
      );
    }, PREVIEW_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [
    fields.workload,
    fields.max_workers,
    fields.reserve_mem_gb,
    fields.max_mem_gb,
    fields.target,
    fields.spill,
    fields.pause,
    fields.terminate,
    fields.name,
    placement,
    jobFields,
    overcommit,
    nodeShare
  ]);

  const set = (key: keyof Fields) => (event: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => {
    touch(key);
    // The name is checked at launch only: its message goes once the user edits it.
    if (key === 'name' && error?.field === 'name') setError(null);
    setFields({ ...fields, [key]: event.target.value });
  };
  const unreadableField = [...unreadable][0] ?? null;
  /** Why Launch cannot be pressed now, said on hover; null when it can. */
  const launchBlocked = launching
    ? 'Launching…'
    : unreadableField !== null
      ? `${FIELD_LABELS[unreadableField] ?? unreadableField}: not a number.`
      : !plan
        ? `No valid plan yet${error ? `: ${inFormWords(error.message)}` : ''}`
        : null;
  /** The message at a field: the browser's refusal of its text, or the engine's, once the user has touched it. */
  const messageAt = (field: string, apiField: string) => {
    if (unreadable.has(field)) return `${FIELD_LABELS[field] ?? field}: not a number.`;
    return error && error.field === apiField && touched.has(field) ? inFormWords(error.message) : null;
  };
  const fieldError = (field: string) =>
    messageAt(field, ['target', 'spill', 'pause', 'terminate'].includes(field) ? `thresholds.${field}` : field);

  const numberField = (key: keyof Fields, label: string, placeholder: string, step = 'any') => {
    const message = fieldError(key);
    return (
      <label className="jp-DaskHpc-field">
        <span>{label}</span>
        <input
          className="jp-mod-styled"
          type="number"
          step={step}
          min={key === 'max_workers' ? '1' : '0'}
          value={fields[key]}
          placeholder={placeholder}
          onChange={set(key)}
          onInput={checkReadable(key)}
          aria-invalid={message !== null}
          name={key}
        />
        {message && (
          <span className="jp-DaskHpc-field-error" role="alert">
            {message}
          </span>
        )}
      </label>
    );
  };

  const launch = async (event: React.FormEvent) => {
    event.preventDefault();
    setLaunching(true);
    try {
      const body = requestBody();
      await launchCluster(body);
    } catch (failure) {
      // What Launch refuses is marked even at a field the user left as it was (the placement, the name).
      const field = (failure as ApiError).field;
      if (field) setTouched(previous => new Set(previous).add(field));
      setError(failure as ApiError);
    } finally {
      setLaunching(false);
    }
  };

  return (
    <form className="jp-DaskHpc-form" onSubmit={launch} aria-label="Launch a Dask cluster">
      <fieldset className="jp-DaskHpc-workloads">
        <legend>Workload</legend>
        {(Object.keys(WORKLOAD_HINTS) as Workload[]).map(workload => (
          <label key={workload} className="jp-DaskHpc-workload">
            <input type="radio" name="workload" value={workload} checked={fields.workload === workload} onChange={set('workload')} />
            <span className="jp-DaskHpc-workload-name">{workload}</span>
            <span className="jp-DaskHpc-workload-hint">{WORKLOAD_HINTS[workload]}</span>
          </label>
        ))}
      </fieldset>
      {numberField('max_workers', 'Max workers', 'all cores', '1')}
      {numberField('reserve_mem_gb', 'Reserve (GiB)', 'scaled to the node')}
      {numberField('max_mem_gb', 'Max memory (GiB)', 'whole job')}
      <label className="jp-DaskHpc-field">
        <span>Name</span>
        <input
          className="jp-mod-styled"
          type="text"
          value={fields.name}
          placeholder="optional"
          onChange={set('name')}
          aria-invalid={fieldError('name') !== null}
          name="name"
        />
        {fieldError('name') && (
          <span className="jp-DaskHpc-field-error" role="alert">
            {fieldError('name')}
          </span>
        )}
      </label>
      <details className="jp-DaskHpc-advanced">
        <summary>Advanced: memory thresholds</summary>
        {numberField('target', 'Target', '0.75')}
        {numberField('spill', 'Spill', '0.85')}
        {numberField('pause', 'Pause', '0.92')}
        {numberField('terminate', 'Terminate', '0.98')}
      </details>
      <label className="jp-DaskHpc-field">
        <span>Workers run</span>
        <select
          className="jp-mod-styled"
          name="placement"
          value={placement}
          onChange={event => setPlacement(event.target.value as Placement)}
        >
          <option value="here">on this node</option>
          <option value="jobs">on other nodes, as batch jobs</option>
          <option value="runner" disabled={runnerUnavailable !== null}>
            on every node of this job ({batchSystem === 'pbs' ? 'pbsdsh' : batchSystem === 'slurm' ? 'srun' : 'pbsdsh or srun'})
          </option>
        </select>
        {runnerUnavailable && (
          <span className="jp-DaskHpc-field-hint" data-testid="dask-hpc-runner-unavailable">
            Every node of this job: unavailable, {runnerUnavailable}.
          </span>
        )}
        {fieldError('runner') && (
          <span className="jp-DaskHpc-field-error" role="alert">
            {fieldError('runner')}
          </span>
        )}
      </label>
      {placement === 'jobs' && (
        <details className="jp-DaskHpc-advanced" open>
          <summary>Workers on other nodes</summary>
          <WorkerJobsFields
            fields={jobFields}
            onChange={changeJobFields}
            errorFor={field => messageAt(field, field)}
            jobEndKnown={Boolean(job?.ends_at)}
          />
        </details>
      )}
      {(clustersHere > 0 || overcommit || error?.field === 'overcommit') && (
        <label className="jp-DaskHpc-check">
          <input
            type="checkbox"
            name="overcommit"
            checked={overcommit}
            onChange={event => setOvercommit(event.target.checked)}
            aria-invalid={error?.field === 'overcommit'}
          />
          <span>Share the node anyway (plan as if the running clusters were not there)</span>
          {error?.field === 'overcommit' && (
            <span className="jp-DaskHpc-field-error" role="alert">
              {error.message}
            </span>
          )}
        </label>
      )}
      <div className="jp-DaskHpc-plan" data-testid="dask-hpc-plan" aria-live="polite">
        {plan ? (
          <>
            <div className="jp-DaskHpc-plan-topology">
              {topologyLead(placement, jobFields)}
              {describeTopology(plan.n_workers, plan.threads_per_worker)}
            </div>
            <div>
              {formatBytes(plan.memory_limit_bytes)} per worker, {formatBytes(plan.reserve_bytes)} kept back
            </div>
            <div>Chunks of about {formatBytes(plan.recommended_chunk_bytes)}</div>
            <div className="jp-DaskHpc-muted">Spill: {plan.local_directory}</div>
            <div className="jp-DaskHpc-muted" data-testid="dask-hpc-spill-cap">
              Spill cap: {describeSpillCap(plan.max_spill_bytes)}
              {plan.max_spill_source ? ` (${plan.max_spill_source})` : ''}
            </div>
            {plan.warnings.map(warning => (
              <div key={warning} className="jp-DaskHpc-warning">
                {inFormWords(warning)}
              </div>
            ))}
            {jobScript && (
              <details className="jp-DaskHpc-job-script" open>
                <summary>Job script (submitted as is)</summary>
                <pre data-testid="dask-hpc-job-script">{jobScript}</pre>
              </details>
            )}
          </>
        ) : unreadableField ? (
          <div className="jp-DaskHpc-error">Fix the marked field to see the plan.</div>
        ) : error && error.field && (touched.has(error.field) || error.field === 'overcommit') ? (
          <div className="jp-DaskHpc-error">Fix the marked field to see the plan.</div>
        ) : error ? (
          <div className="jp-DaskHpc-error">{inFormWords(error.message)}</div>
        ) : (
          <div className="jp-DaskHpc-muted">Planning…</div>
        )}
      </div>
      <button
        type="submit"
        className="jp-mod-styled jp-mod-accept jp-DaskHpc-launch"
        disabled={launchBlocked !== null}
        title={launchBlocked ?? 'Start this cluster'}
      >
        {launching ? 'Launching…' : 'Launch'}
      </button>
    </form>
  );
}
