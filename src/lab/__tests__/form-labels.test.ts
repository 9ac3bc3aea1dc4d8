import { inFormWords } from '../form-labels';

test('engine messages name the form labels, not API fields', () => {
  expect(inFormWords('use max_workers=1 or less, or a smaller reserve')).toBe('use “Max workers” 1 or less, or a smaller reserve');
  expect(inFormWords('use a smaller reserve_mem_gb or a larger max_mem_gb')).toBe(
    'use a smaller “Reserve (GiB)” or a larger “Max memory (GiB)”'
  );
  expect(inFormWords('worker_jobs.memory_gb must be a positive number')).toBe('“Memory per job (GiB)” must be a positive number');
  expect(inFormWords('memory_gb must be a positive number')).toBe('“Memory per job (GiB)” must be a positive number');
  expect(inFormWords('the name is taken')).toBe('the name is taken');
});
