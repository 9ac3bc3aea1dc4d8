import * as React from 'react';

interface Props {
  label: string;
  used: number;
  total: number;
  /** The figure shown right of the bar. */
  text: string;
  testId?: string;
  role?: 'meter' | 'progressbar';
}

/** One line: a label, a bar of used over total, and the figure. */
export function Meter({ label, used, total, text, testId, role = 'meter' }: Props): JSX.Element {
  const percent = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  return (
    <div className="jp-DaskHpc-meter" data-testid={testId}>
      {/* The trailing space keeps the line's text readable ("Workers 2/2") for assistive tools and tests. */}
      <span className="jp-DaskHpc-meter-label">{label} </span>
      <div
        className="jp-DaskHpc-bar"
        role={role}
        aria-label={label}
        aria-valuenow={Math.round(used)}
        aria-valuemin={0}
        aria-valuemax={Math.round(total)}
      >
        <div className="jp-DaskHpc-bar-fill" style={{ width: `${percent}%` }} />
      </div>
      <span className="jp-DaskHpc-meter-value">{text}</span>
    </div>
  );
}
