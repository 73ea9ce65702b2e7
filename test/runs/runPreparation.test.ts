/**
 * One run preparation: the table of cases in preparationCases.ts goes through the pure module (with
 * the language service as the only judge of what blocks a session) and through the CLI process
 * (`smtpwb run --dry-run --json`), and both must reach the same decisions.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { secretEnvName } from '../../common/variables';
import { LanguageService } from '../../server/src/languageService';
import { dotenvFromTexts, environmentValues, findEnvironmentSettings, parseDotenv, stripJsonComments, environmentsFromSettingsText, ignoredEnvironmentValues } from '../../client/src/runs/environments';
import {
  environmentOverrides,
  prepareSession,
  preparationSummary,
  selectSessions,
  timeoutsInForce,
  type PreparationSummary,
  type SessionSource,
} from '../../client/src/runs/runPreparation';
import { DEFAULT_TIMEOUTS, type SessionPlan } from '../../common/sessionPlan';
import { PREPARATION_CASES, differences, type PreparationCase } from './preparationCases';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'smtpwb-prep-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Writes a case's folder; returns the script's path. */
function materialize(c: PreparationCase, index: number): string {
  const dir = join(root, `case-${index}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'script.smtp'), c.script);
  for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), text);
  return join(dir, 'script.smtp');
}

/** The pure path: the language service's per-session answers, then prepareSession. */
async function pureDecisions(c: PreparationCase): Promise<PreparationSummary[] | string> {
  const settings = c.request.env ? environmentsFromSettingsText(c.files?.['smtpwb.json'] ?? '') : undefined;
  const overrides = environmentOverrides(settings, c.request.env, c.request.vars ?? {});
  const service = new LanguageService();
  service.setExternalVariables(Object.keys(overrides), overrides);
  const uri = 'file:///case/script.smtp';
  const document = TextDocument.create(uri, 'smtp', 1, c.script);
  const sources: SessionSource[] = service.sessions(document).map((s) => {
    const answer = service.sessionPlan(document, { uri, index: s.index });
    return { index: s.index, title: s.title, ...(s.name !== undefined ? { name: s.name } : {}), plan: answer.plan, errors: answer.errors };
  });
  const selection = selectSessions(sources, { names: c.request.sessions, all: c.request.all });
  if (!selection.ok) return selection.message;
  const env = c.processEnv ?? {};
  const dotenv = dotenvFromTexts([c.files?.['.env']]);
  const out: PreparationSummary[] = [];
  for (const index of selection.indexes) {
    const prepared = await prepareSession(sources[index], {
      overrides,
      env: (name) => env[name],
      dotenv,
      secret: (name) => env[secretEnvName(name)],
      hostname: 'test.invalid',
      timeouts: c.request.timeoutSeconds !== undefined ? { all: c.request.timeoutSeconds * 1000 } : {},
    });
    out.push(preparationSummary(prepared));
  }
  return out;
}

/** The CLI path: `smtpwb run --dry-run --json` as a process. */
function cliDecisions(c: PreparationCase, file: string): PreparationSummary[] | string {
  const cli = resolve(process.env.SMTPWB_DIST ?? 'dist', 'cli.js');
  assert.ok(existsSync(cli), `${cli} is not built: run node scripts/build.mjs`);
  const args = [cli, 'run', file, '--dry-run', '--json'];
  for (const s of c.request.sessions ?? []) args.push('--session', s);
  if (c.request.all) args.push('--all');
  for (const [k, v] of Object.entries(c.request.vars ?? {})) args.push(`--var=${k}=${v}`);
  if (c.request.env) args.push('--env', c.request.env);
  if (c.request.timeoutSeconds !== undefined) args.push('--timeout', String(c.request.timeoutSeconds));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: root, ...c.processEnv };
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  if (run.status !== 0 && run.status !== 2) return `exit ${run.status}: ${run.stderr}`;
  try {
    return (JSON.parse(run.stdout) as { sessions: PreparationSummary[] }).sessions;
  } catch {
    return `no JSON (exit ${run.status}): ${run.stdout}${run.stderr}`;
  }
}

for (const [index, c] of PREPARATION_CASES.entries()) {
  test(`run preparation: ${c.name}`, async () => {
    const file = materialize(c, index);
    const pure = await pureDecisions(c);
    assert.ok(typeof pure !== 'string', String(pure));
    assert.equal(pure.length, c.expect.length, JSON.stringify(pure, null, 2));
    c.expect.forEach((want, i) => assert.deepEqual(differences(pure[i], want), [], JSON.stringify(pure[i], null, 2)));
    const cli = cliDecisions(c, file);
    assert.ok(typeof cli !== 'string', String(cli));
    // The same decisions, field for field (problems carry the same codes, lines and messages).
    assert.deepEqual(cli, pure);
  });
}

test('parseDotenv follows dotenv: comments, quotes, escapes, export, later lines win', () => {
  const values = parseDotenv(
    [
      '# a comment line',
      'export A=plain value  # trailing comment',
      'B="double # kept" # comment',
      "C='single \\n # kept'",
      'D="line\\nbreak \\"quoted\\""',
      'E=a#b',
      'F=',
      'G=first',
      'G=second',
      'not a line',
      '\uFEFFH=bom',
    ].join('\n'),
  );
  assert.deepEqual(values, { A: 'plain value', B: 'double # kept', C: 'single \\n # kept', D: 'line\nbreak "quoted"', E: 'a#b', F: '', G: 'second', H: 'bom' });
  assert.equal(parseDotenv('\uFEFFH=bom\n').H, 'bom');
});

test('environments: one value rule (text, numbers and booleans as JSON writes them; null, objects and arrays left out)', () => {
  const settings = environmentsFromSettingsText('{ "smtp": { "environments": { "$shared": { "n": 25, "f": 1.5, "b": false, "s": "x", "z": null, "o": {}, "a": [] }, "e": { "s": "y" } } } }');
  assert.deepEqual(environmentValues(settings, 'e'), { n: '25', f: '1.5', b: 'false', s: 'y' });
  assert.deepEqual(ignoredEnvironmentValues(settings, 'e').sort(), ['$shared.a', '$shared.o', '$shared.z']);
  assert.deepEqual(JSON.parse(stripJsonComments('{"a": "// not a comment", /* c */ "b": 1, // end\n}')), { a: '// not a comment', b: 1 });
  const files: Record<string, string> = { '/w/.vscode/settings.json': '{"smtp.environments": {"x": {"a": "1"}}}', '/w/sub/smtpwb.json': '{"other": 1}' };
  assert.deepEqual(findEnvironmentSettings('/w/sub', (p) => files[p]), { file: '/w/.vscode/settings.json', environments: { x: { a: '1' } } });
});

test('timeoutsInForce: script > front end (one value or per phase) > defaults', () => {
  const plan = { options: { timeouts: { greeting: 1000 }, allowCleartextAuth: false, pipelining: false } } as unknown as SessionPlan;
  assert.deepEqual(timeoutsInForce(plan), { ...DEFAULT_TIMEOUTS, greeting: 1000 });
  assert.deepEqual(timeoutsInForce(plan, { all: 5000 }).greeting, 1000);
  assert.deepEqual(timeoutsInForce(plan, { all: 5000 }).tls, 5000);
  assert.deepEqual(timeoutsInForce(plan, { perPhase: { tls: 7000, greeting: 9000 } }), { ...DEFAULT_TIMEOUTS, greeting: 1000, tls: 7000 });
});

test('selectSessions: by @name or title, --all, the only one, or a clear refusal', () => {
  const sources = [
    { index: 0, title: 'First', name: 'one' },
    { index: 1, title: 'Second' },
  ];
  assert.deepEqual(selectSessions(sources, { names: ['Second', 'one'] }), { ok: true, indexes: [1, 0] });
  assert.deepEqual(selectSessions(sources, { all: true }), { ok: true, indexes: [0, 1] });
  assert.equal(selectSessions(sources, {}).ok, false);
  assert.deepEqual(selectSessions([sources[0]], {}), { ok: true, indexes: [0] });
  const unknown = selectSessions(sources, { names: ['nope'] });
  assert.ok(!unknown.ok && /no session named "nope"/.test(unknown.message));
  assert.equal(selectSessions([], {}).ok, false);
});

test('a prompt is asked once per name, masked for secret-looking names, and its answer is a secret then', async () => {
  const service = new LanguageService();
  const uri = 'file:///p.smtp';
  const document = TextDocument.create(uri, 'smtp', 1, '### p\nEHLO {{$prompt greeting}}\nNOOP {{$prompt greeting}}\nNOOP {{$prompt api-token}}\nQUIT\n');
  const answer = service.sessionPlan(document, { uri, index: 0 });
  const asked: Array<[string, boolean]> = [];
  const prepared = await prepareSession(
    { index: 0, title: 'p', plan: answer.plan, errors: answer.errors },
    {
      overrides: {},
      prompt: (name, masked) => {
        asked.push([name, masked]);
        return name === 'greeting' ? 'hello.example.test' : 'tok-12345';
      },
    },
  );
  assert.deepEqual(asked, [
    ['greeting', false],
    ['api-token', true],
  ]);
  assert.equal(prepared.status, 'ready');
  assert.deepEqual(preparationSummary(prepared).commands, ['EHLO hello.example.test', 'NOOP hello.example.test', 'NOOP ********', 'QUIT']);
});
