import { countCpuList, parsePbsSize, parseSlurmMemory } from '../../node/units';

const GiB = 2 ** 30;

describe('parsePbsSize reads every form PBS writes', () => {
  test.each([
    ['201326592000', 201326592000],
    ['300gb', 300 * GiB],
    ['190GB', 190 * GiB],
    ['4000mb', 4000 * 2 ** 20],
    ['1tb', 1024 * GiB],
    ['512kb', 512 * 1024],
    ['2048b', 2048],
    ['1mw', 8 * 2 ** 20]
  ])('%s is %d bytes', (text, bytes) => {
    expect(parsePbsSize(text)).toBe(bytes);
  });

  test.each(['lots', '', '300g', 'gb', '-5gb', '12 apples'])('%j is not a size', text => {
    expect(parsePbsSize(text)).toBeNull();
  });
});

test('Slurm memory is MiB unless it says otherwise', () => {
  expect(parseSlurmMemory('128000')).toBe(128000 * 2 ** 20);
  expect(parseSlurmMemory('16G')).toBe(16 * GiB);
  expect(parseSlurmMemory('many')).toBeNull();
});

test('CPU lists count ranges and singles', () => {
  expect(countCpuList('0-3,8,10-11')).toBe(7);
  expect(countCpuList('0-103')).toBe(104);
  expect(countCpuList('3-1')).toBeNull();
  expect(countCpuList('x')).toBeNull();
});
