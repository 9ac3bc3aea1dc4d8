import { describeSessionEnd, dueWarning, formatDuration, secondsLeft, walltimeLeft, warningMessage } from '../session-end';

const now = Date.parse('2026-12-03T13:18:00Z');
const inMinutes = (minutes: number) => new Date(now + minutes * 60_000).toISOString();

describe("the session's time left", () => {
  test('is shown as hours and minutes, rounded down, with the clock time of the end', () => {
    expect(describeSessionEnd('2026-12-03T14:30:00Z', now, 'UTC')).toEqual({
      text: 'Session ends in 1 h 12 min (at 14:30)',
      secondsLeft: 72 * 60,
      warning: false
    });
    expect(describeSessionEnd(inMinutes(14.99), now, 'UTC')?.text).toBe('Session ends in 14 min (at 13:32)');
    expect(describeSessionEnd(inMinutes(120), now, 'UTC')?.text).toBe('Session ends in 2 h (at 15:18)');
    expect(describeSessionEnd(inMinutes(0.5), now, 'UTC')?.text).toBe('Session ends in under a minute (at 13:18)');
    expect(formatDuration(26 * 3600 + 60)).toBe('26 h 1 min');
  });

  test('is a warning in the last 15 minutes and after the end, not before', () => {
    expect(describeSessionEnd(inMinutes(15.5), now)?.warning).toBe(false);
    expect(describeSessionEnd(inMinutes(15), now)?.warning).toBe(true);
    const past = describeSessionEnd(inMinutes(-2), now, 'UTC');
    expect(past).toEqual({ text: 'Session has reached its walltime (at 13:16)', secondsLeft: -120, warning: true });
  });

  test('is nothing outside a job, where the end is unknown, or where it is not a time', () => {
    for (const end of [null, undefined, '', 'soon', 'Thu Dec 32']) {
      expect(describeSessionEnd(end, now)).toBeNull();
      expect(secondsLeft(end, now)).toBeNull();
    }
  });
});

describe('the notifications before the end', () => {
  test('come at 15 and at 5 minutes, each once', () => {
    const shown = new Set<number>();
    const at = (minutesLeft: number) => {
      const due = dueWarning(minutesLeft * 60, shown);
      due?.covers.forEach(m => shown.add(m));
      return due?.minutes ?? null;
    };
    expect([at(40), at(15.5), at(15), at(14), at(9), at(5), at(4), at(1)]).toEqual([null, null, 15, null, null, 5, null, null]);
  });

  test('a page opened with 4 minutes left shows the 5-minute one only, and never the 15-minute one after it', () => {
    const due = dueWarning(4 * 60, new Set());
    expect(due).toEqual({ minutes: 5, covers: [15, 5] });
    expect(dueWarning(4 * 60, new Set(due?.covers))).toBeNull();
  });

  test('none once the end has passed or where it is unknown', () => {
    expect(dueWarning(0, new Set())).toBeNull();
    expect(dueWarning(-30, new Set())).toBeNull();
    expect(dueWarning(null, new Set())).toBeNull();
  });

  test('say what is lost and what to do', () => {
    const text = warningMessage(14 * 60 + 30, '2026-12-03T13:32:30Z', 'UTC');
    expect(text).toContain('ends in 14 min (at 13:32)');
    expect(text).toContain("workers' memory is lost");
    expect(text).toContain('/scratch');
    // A JupyterLab toast cuts a message past 140 characters: the advice at the end must show.
    for (const seconds of [15 * 60, 10 * 60 + 59, 5 * 60, 59]) {
      expect(warningMessage(seconds, '2026-12-03T13:32:30Z', 'UTC').length).toBeLessThanOrEqual(140);
    }
  });
});

describe("a worker job's walltime from the time left", () => {
  test('is the time left rounded down to whole minutes', () => {
    expect(walltimeLeft(inMinutes(72.9), now)).toEqual({ walltime: '01:12:00' });
    expect(walltimeLeft(inMinutes(5), now)).toEqual({ walltime: '00:05:00' });
    expect(walltimeLeft(inMinutes(48 * 60 + 1), now)).toEqual({ walltime: '48:01:00' });
  });

  test('is too short under 5 minutes, and unknown where the end is', () => {
    expect(walltimeLeft(inMinutes(4.99), now)).toEqual({ too_short: 299 });
    expect(walltimeLeft(inMinutes(-3), now)).toEqual({ too_short: 0 });
    expect(walltimeLeft(null, now)).toBeNull();
    expect(walltimeLeft('yesterday', now)).toBeNull();
  });
});
