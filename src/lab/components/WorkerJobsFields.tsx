import * as React from 'react';
import { perNodeLabels, type WorkerJobFields } from '../worker-jobs';

interface Props {
  fields: WorkerJobFields;
  onChange: (fields: WorkerJobFields) => void;
  /** The engine's message for a field of worker_jobs, or null. */
  errorFor: (field: string) => string | null;
  /** This JupyterLab's job has a known end: an empty walltime is the time it has left. */
  jobEndKnown?: boolean;
}

/** The shape of each worker job (PBS: Gadi or standard PBS Pro; Slurm), as the job script needs it. */
export function WorkerJobsFields({ fields, onChange, errorFor, jobEndKnown }: Props): JSX.Element {
  const set = (key: keyof WorkerJobFields) => (event: React.ChangeEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>) =>
    onChange({ ...fields, [key]: event.target.value });
  const gadi = fields.system === 'pbs' && fields.dialect === 'gadi';
  const pbsPro = fields.system === 'pbs' && fields.dialect === 'pbspro';
  const perNode = perNodeLabels(fields);

  const field = (key: keyof WorkerJobFields, label: string, placeholder: string, type = 'text') => {
    const message = errorFor(`worker_jobs.${key}`);
    return (
      <label className="jp-DaskHpc-field">
        <span>{label}</span>
        <input
          className="jp-mod-styled"
          type={type}
          step="any"
          min="0"
          value={fields[key]}
          placeholder={placeholder}
          onChange={set(key)}
          aria-invalid={message !== null}
          name={`job-${key}`}
        />
        {message && (
          <span className="jp-DaskHpc-field-error" role="alert">
            {message}
          </span>
        )}
      </label>
    );
  };
  const prologueError = errorFor('worker_jobs.prologue');
  const systemError = errorFor('worker_jobs.system');

  return (
    <div className="jp-DaskHpc-jobs" data-testid="dask-hpc-job-fields">
      <label className="jp-DaskHpc-field">
        <span>Batch system</span>
        <select
          className="jp-mod-styled"
          name="job-system"
          value={fields.system}
          onChange={set('system')}
          aria-invalid={systemError !== null}
        >
          <option value="pbs">PBS</option>
          <option value="slurm">Slurm</option>
        </select>
        {systemError && (
          <span className="jp-DaskHpc-field-error" role="alert">
            {systemError}
          </span>
        )}
      </label>
      {fields.system === 'pbs' && (
        <label className="jp-DaskHpc-field">
          <span>PBS flavour</span>
          <select className="jp-mod-styled" name="job-dialect" value={fields.dialect} onChange={set('dialect')}>
            <option value="gadi">NCI Gadi</option>
            <option value="pbspro">PBS Pro (select=)</option>
          </select>
        </label>
      )}
      {field('nodes', 'Nodes per job', '1', 'number')}
      {field('cores', perNode ? 'Cores per node' : 'Cores per job', 'e.g. 48', 'number')}
      {field('memory_gb', perNode ? 'Memory per node (GiB)' : 'Memory per job (GiB)', 'e.g. 190', 'number')}
      {field('walltime', 'Walltime', jobEndKnown ? 'time this job has left' : 'HH:MM:SS')}
      {field('queue', fields.system === 'slurm' ? 'Partition' : 'Queue', 'site default')}
      {field('account', gadi ? 'Project (-P)' : 'Account', 'default')}
      {!pbsPro &&
        field(
          'jobfs_gb',
          (fields.system === 'slurm' ? 'Local disk, --tmp (GiB)' : 'Jobfs (GiB)') + (perNode ? ' per node' : ''),
          'site default',
          'number'
        )}
      {gadi && field('storage', 'Storage (-l storage)', 'gdata/ab12+scratch/ab12')}
      <label className="jp-DaskHpc-field">
        <span>Prologue</span>
        <textarea
          className="jp-mod-styled"
          name="job-prologue"
          rows={2}
          value={fields.prologue}
          placeholder="module load python3/3.11.7"
          onChange={set('prologue')}
          aria-invalid={prologueError !== null}
        />
        {prologueError && (
          <span className="jp-DaskHpc-field-error" role="alert">
            {prologueError}
          </span>
        )}
      </label>
      {field('interface', 'Network interface', 'ib0, else the first')}
      {field('jobs', 'Jobs to submit', '1', 'number')}
    </div>
  );
}
