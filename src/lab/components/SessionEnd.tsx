import * as React from 'react';
import { describeSessionEnd } from '../../common/session-end';

/** How often the time left is redrawn: it shows whole minutes. */
const TICK_MS = 15_000;

/** "Session ends in 1 h 12 min (at 14:30)": the job's walltime as it runs out; nothing where the end is unknown. */
export function SessionEnd({ endsAt, testId }: { endsAt: string | null | undefined; testId: string }): JSX.Element | null {
  // Redrawn on each tick and whenever the sidebar is (each refresh), reading the clock each time.
  const [, setTicks] = React.useState(0);
  React.useEffect(() => {
    if (!endsAt) return;
    const timer = setInterval(() => setTicks(ticks => ticks + 1), TICK_MS);
    return () => clearInterval(timer);
  }, [endsAt]);
  const end = describeSessionEnd(endsAt, Date.now());
  if (!end) return null;
  return (
    <div
      className={end.warning ? 'jp-DaskHpc-warning' : 'jp-DaskHpc-muted'}
      data-testid={testId}
      title={`The job's walltime ends at ${endsAt}: its clusters stop then, and what their workers hold is lost.`}
    >
      {end.text}
    </div>
  );
}
