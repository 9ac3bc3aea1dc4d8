import * as React from 'react';
import { formatBytes } from '../../common/format';
import type { ClusterState, Resources } from '../../common/protocol';
import { jobfsAgainstRequest } from '../jobfs-bar';
import { SessionEnd } from './SessionEnd';

interface Props {
  resources: Resources | null;
  error: string | null;
  clusters: ClusterState[];
}

function Bar(props: { label: string; used: number; total: number; text: string; source: string; warn?: boolean }) {
  const fraction = props.total > 0 ? Math.min(1, props.used / props.total) : 0;
  return (
    <div
      className={`jp-DaskHpc-resource${props.warn ? ' jp-DaskHpc-resource-warn' : ''}`}
      title={`from ${props.source}`}
      data-testid={`dask-hpc-resource-${props.label.toLowerCase().replace(/ /g, '-')}`}
    >
      <div className="jp-DaskHpc-resource-label">
        <span>{props.label}</span>
        <span className="jp-DaskHpc-resource-value">{props.text}</span>
      </div>
      <div
        className="jp-DaskHpc-bar"
        role="meter"
        aria-label={props.label}
        aria-valuenow={Math.round(fraction * 100)}
        aria-valuemin={0}
        aria-valuemax={100}
      >
        <div className="jp-DaskHpc-bar-fill" style={{ width: `${fraction * 100}%` }} />
      </div>
    </div>
  );
}

/** The node as this job sees it, with what the running clusters take of it. */
export function ResourcesView({ resources, error, clusters }: Props): JSX.Element {
  if (error) return <div className="jp-DaskHpc-error">Cannot read this node's resources: {error}</div>;
  if (!resources) return <div className="jp-DaskHpc-muted">Reading this node…</div>;
  const workers = clusters.flatMap(c => c.workers.map(() => c.plan));
  const coresInUse = workers.reduce((sum, plan) => sum + plan.threads_per_worker, 0);
  const memoryInUse = workers.reduce((sum, plan) => sum + plan.memory_limit_bytes, 0);
  const jobfsFree = resources.jobfs_free_bytes;
  const jobfsSize = resources.jobfs_size_bytes ?? null;
  const againstRequest = jobfsAgainstRequest(resources);
  return (
    <div className="jp-DaskHpc-resources">
      <div className="jp-DaskHpc-job" data-testid="dask-hpc-batch">
        {resources.batch_system === 'none' ? 'No batch system' : `${resources.batch_system.toUpperCase()} job ${resources.job_id}`} on{' '}
        {resources.hostname}
      </div>
      <SessionEnd endsAt={resources.job?.ends_at} testId="dask-hpc-session-end" />
      <Bar
        label="Cores"
        used={coresInUse}
        total={resources.cores}
        text={`${coresInUse} of ${resources.cores} in use`}
        source={resources.sources.cores}
      />
      <Bar
        label="Memory"
        used={memoryInUse}
        total={resources.memory_bytes}
        text={`${formatBytes(memoryInUse)} of ${formatBytes(resources.memory_bytes)} given to workers`}
        source={resources.sources.memory}
      />
      {againstRequest ? (
        <>
          <Bar
            label="Job filesystem"
            used={againstRequest.used}
            total={againstRequest.total}
            text={againstRequest.text}
            source={`${resources.jobfs}, the job's jobfs request from ${resources.batch_system === 'pbs' ? 'qstat' : 'scontrol'}`}
            warn={againstRequest.warning !== null}
          />
          {againstRequest.warning && (
            <div className="jp-DaskHpc-warning" role="alert" data-testid="dask-hpc-jobfs-warning">
              {againstRequest.warning}
            </div>
          )}
        </>
      ) : jobfsFree !== null && jobfsSize ? (
        <Bar
          label="Job filesystem"
          used={jobfsSize - jobfsFree}
          total={jobfsSize}
          text={`${formatBytes(jobfsFree)} free of ${formatBytes(jobfsSize)}`}
          source={`${resources.jobfs ?? '/tmp'}, from ${resources.sources.jobfs}`}
        />
      ) : (
        <div className="jp-DaskHpc-resource" title={`from ${resources.sources.jobfs}`}>
          <div className="jp-DaskHpc-resource-label">
            <span>Job filesystem</span>
            <span className="jp-DaskHpc-resource-value">
              {resources.jobfs ?? 'none: /tmp'}
              {jobfsFree !== null ? `, ${formatBytes(jobfsFree)} free` : ''}
            </span>
          </div>
        </div>
      )}
      {resources.warnings.map(warning => (
        <div key={warning} className="jp-DaskHpc-warning">
          {warning}
        </div>
      ))}
    </div>
  );
}
