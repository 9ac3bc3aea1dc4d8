import { SessionEndNotifier, type JobEnd } from '../session-end-notifier';

const END = Date.parse('2026-12-03T15:00:00Z');
const job: JobEnd = { id: '12.gadi-pbs', endsAt: '2026-12-03T15:00:00.000Z' };

function memoryStorage() {
  const values = new Map<string, string>();
  return { getItem: (key: string) => values.get(key) ?? null, setItem: (key: string, value: string) => void values.set(key, value) };
}

function notifierAt(minutesLeft: { value: number }, storage = memoryStorage(), jobEnd: JobEnd | null = job) {
  const messages: string[] = [];
  const notifier = new SessionEndNotifier({
    jobEnd: () => jobEnd,
    notify: message => messages.push(message),
    now: () => END - minutesLeft.value * 60_000,
    storage
  });
  return { notifier, messages };
}

test('warns at 15 and at 5 minutes before the end, each once, and not before or after the end', () => {
  const left = { value: 40 };
  const { notifier, messages } = notifierAt(left);
  notifier.check();
  expect(messages).toEqual([]);
  left.value = 14.5;
  notifier.check();
  notifier.check();
  expect(messages).toHaveLength(1);
  expect(messages[0]).toMatch(/^This session ends in 14 min \(at \d\d:\d\d\)/);
  left.value = 4.5;
  notifier.check();
  left.value = 3;
  notifier.check();
  expect(messages).toHaveLength(2);
  expect(messages[1]).toContain('ends in 4 min');
  left.value = -1;
  notifier.check();
  expect(messages).toHaveLength(2);
});

test('a page opened 4 minutes before the end shows the 5-minute warning only', () => {
  const { notifier, messages } = notifierAt({ value: 4 });
  notifier.check();
  notifier.check();
  expect(messages).toHaveLength(1);
  expect(messages[0]).toContain('ends in 4 min');
});

test('a reload (a new notifier on the same storage) does not warn again; another job does', () => {
  const storage = memoryStorage();
  const left = { value: 10 };
  const first = notifierAt(left, storage);
  first.notifier.check();
  const reloaded = notifierAt(left, storage);
  reloaded.notifier.check();
  expect(reloaded.messages).toEqual([]);
  const nextJob = notifierAt(left, storage, { id: '13.gadi-pbs', endsAt: job.endsAt });
  nextJob.notifier.check();
  expect(nextJob.messages).toHaveLength(1);
});

test('outside a job, and with storage that throws, nothing breaks and nothing repeats', () => {
  const none = notifierAt({ value: 3 }, memoryStorage(), null);
  none.notifier.check();
  expect(none.messages).toEqual([]);
  const refusing = {
    getItem: () => 'not json',
    setItem: () => {
      throw new Error('QuotaExceededError');
    }
  };
  const { notifier, messages } = notifierAt({ value: 3 }, refusing);
  notifier.check();
  notifier.check();
  expect(messages).toHaveLength(1);
});
