import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { ClusterState } from '../../common/protocol';
import { autoConnectCode, clientSnippet } from '../snippet';

// The repository's Python judges the code: what a notebook would run, parsed as it would.
const PYTHON = path.resolve(__dirname, '../../../.venv/bin/python');

/** The top-level statements of `code` as Python parses them, and the values of its assignments (nested ones too). */
function parsePython(code: string): { statements: string[]; values: Record<string, unknown> } {
  const script = [
    'import ast, json, sys',
    'tree = ast.parse(sys.stdin.read())',
    'values = {}',
    'for node in ast.walk(tree):',
    '    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):',
    '        values[node.targets[0].id] = node.value.value',
    '    elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):',
    '        values[node.targets[0].id] = [ast.literal_eval(a) for a in node.value.args]',
    'print(json.dumps({"statements": [type(n).__name__ for n in tree.body], "values": values}))'
  ].join('\n');
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { input: code, encoding: 'utf8' }));
}

// Values a user's cluster name or a directory may hold that raw text substitution mangles:
// quotes, a newline that leaves the comment, backslashes, and String.replace's `$&` / `$'`.
const hostile = {
  id: 'abcd1234',
  name: 'era5\nimport os; os.system("touch /tmp/pwned") # $& $\' $` "\'\\',
  local_directory: '/jobfs/1.gadi-pbs/dask-hpc/it\'s "here" \\ $& \u2028 end'
} as ClusterState;

test('the client snippet puts each value in as a Python literal: a name cannot become code, and $& stays text', () => {
  const parsed = parsePython(clientSnippet(hostile));
  // from … import connect; client = connect(…); dask_local_dir = …; client — and nothing else.
  expect(parsed.statements).toEqual(['ImportFrom', 'Assign', 'Assign', 'Expr']);
  expect(parsed.values).toEqual({ client: ['abcd1234'], dask_local_dir: hostile.local_directory });
});

test('every placeholder of a template, quoted or not, becomes the exact value', () => {
  const code = clientSnippet(hostile, 'a = {id}\nb = "{name}"\nc = \'{local_directory}\'\nd = {name}');
  expect(parsePython(code).values).toEqual({ a: hostile.id, b: hostile.name, c: hostile.local_directory, d: hostile.name });
  // A value is not scanned again for placeholders.
  expect(clientSnippet({ ...hostile, name: '{id}' } as ClusterState, '{name}')).toBe('"{id}"');
});

test('autoConnect code carries the same literals', () => {
  const parsed = parsePython(autoConnectCode(hostile));
  expect(parsed.statements).toEqual(['Try']);
  expect(parsed.values).toEqual({ client: ['abcd1234'], dask_local_dir: hostile.local_directory });
});
