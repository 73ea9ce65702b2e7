// How fast the CLI is as a whole process, each figure next to its reference measured in the same run
// (issue "speed where users feel it", part 1). The commands alternate, and each figure is the median
// of at least 10 runs:
//   1. `smtpwb run` of one session (EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) against
//      Exim  vs  swaks doing the same session against the same Exim            goal ≤ 1.0× swaks's wall time
//   2. `smtpwb --help`                   vs  `node -e 0`                          goal ≤ 2×
//   3. `smtpwb lint` of one small file   vs  `node -e 0`                          goal ≤ 2×
// CPU time (user + system of the child, from /proc) is printed beside each wall time. With
// NODE_EXTRA_CA_CERTS set, `smtpwb run` and `node -e 0` are also timed without it (informational).
// Usage (from any folder: the checkout is found from this file's location):
//   node OUT/bench/cli-startup.main.js [--runs N] [--json]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExim } from '../test/peers/exim';
import { repoRoot, requireBinary } from '../test/peers/require';
import { spread, timedProcess, type ProcessSample } from './processTiming';

const argv = process.argv.slice(2);
const runsIndex = argv.indexOf('--runs');
const RUNS = Math.max(10, runsIndex >= 0 ? Number(argv[runsIndex + 1]) || 10 : 10);
const JSON_OUT = argv.includes('--json');
const CLI = join(process.env.SMTPWB_DIST ?? join(repoRoot(), 'dist'), 'cli.js');

async function main(): Promise<void> {
  const swaks = requireBinary('swaks');
  const work = mkdtempSync(join(tmpdir(), 'smtpwb-bench-cli-'));
  const exim = await startExim();
  try {
    const script = join(work, 'submit.smtp');
    writeFileSync(
      script,
      [
        '### Submit with STARTTLS and AUTH',
        `CONNECT smtp://127.0.0.1:${exim.port}`,
        `TLS ca=${exim.caPath} sni=mail.example.test`,
        'EHLO client.example.test',
        'STARTTLS',
        'EHLO client.example.test',
        'AUTH PLAIN {{user}} {{$secret bench-password}}',
        'MAIL FROM:<alice@example.test>',
        'RCPT TO:<bob@example.test>',
        'DATA',
        'From: alice@example.test',
        'To: bob@example.test',
        'Subject: cli startup',
        '',
        'hello',
        '.',
        'QUIT',
        '',
      ].join('\n'),
    );
    const small = join(work, 'small.smtp');
    writeFileSync(small, '### Small\nEHLO client.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nQUIT\n');
    const env: NodeJS.ProcessEnv = { ...process.env, SMTPWB_SECRET_BENCH_PASSWORD: exim.pass };
    const envFor: Record<string, NodeJS.ProcessEnv> = {};
    const stderrFile = join(work, 'stderr.txt');
    const commands: Record<string, [string, string[]]> = {
      smtpwbRun: [process.execPath, [CLI, 'run', script, '--var', `user=${exim.user}`]],
      swaks: [
        swaks,
        [
          '--server', `127.0.0.1:${exim.port}`, '--ehlo', 'client.example.test', '--tls', '--tls-verify', '--tls-ca-path', exim.caPath,
          '--tls-sni', 'mail.example.test', '--auth', 'PLAIN', '--auth-user', exim.user, '--auth-password', exim.pass,
          '--from', 'alice@example.test', '--to', 'bob@example.test', '--header', 'Subject: cli startup', '--body', 'hello',
        ],
      ],
      help: [process.execPath, [CLI, '--help']],
      lint: [process.execPath, [CLI, 'lint', small]],
      nodeBare: [process.execPath, ['-e', '0']],
    };
    // NODE_EXTRA_CA_CERTS (set on some CI machines and containers) is read at every start by Node
    // before 22, for every Node process: node -e 0 pays it as well as smtpwb, swaks does not. When
    // it is set, the same two commands also run without it, informational only, so a reader can
    // tell Node's start from the CLI's.
    const extraCa = process.env.NODE_EXTRA_CA_CERTS !== undefined && process.env.NODE_EXTRA_CA_CERTS !== '';
    const withoutExtraCa: Record<string, string> = {};
    if (extraCa) {
      const envWithout = { ...env };
      delete envWithout.NODE_EXTRA_CA_CERTS;
      withoutExtraCa.smtpwbRunNoExtraCa = 'smtpwbRun';
      withoutExtraCa.nodeBareNoExtraCa = 'nodeBare';
      envFor.smtpwbRunNoExtraCa = envWithout;
      envFor.nodeBareNoExtraCa = envWithout;
      for (const [name, of] of Object.entries(withoutExtraCa)) commands[name] = commands[of];
    }
    const samples: Record<string, ProcessSample[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
    // One warm-up of each, so the file cache is warm for every command alike.
    for (const [name, [command, args]] of Object.entries(commands)) await timedProcess(command, args, envFor[name] ?? env, stderrFile);
    for (let i = 0; i < RUNS; i++) {
      for (const [name, [command, args]] of Object.entries(commands)) samples[name].push(await timedProcess(command, args, envFor[name] ?? env, stderrFile));
    }
    const wall = (name: string) => spread(samples[name].map((s) => s.wallMs));
    const cpu = (name: string) => spread(samples[name].map((s) => s.cpuMs));
    const rows = [
      { name: 'smtpwb run (STARTTLS + AUTH session to Exim)', figure: 'smtpwbRun', reference: 'swaks', goal: 1.0 },
      { name: 'smtpwb --help', figure: 'help', reference: 'nodeBare', goal: 2.0 },
      { name: 'smtpwb lint (one small file)', figure: 'lint', reference: 'nodeBare', goal: 2.0 },
    ].map((r) => {
      const ratio = wall(r.figure).median / wall(r.reference).median;
      return { ...r, wall: wall(r.figure), cpu: cpu(r.figure), refWall: wall(r.reference), refCpu: cpu(r.reference), ratio, met: ratio <= r.goal };
    });
    const informational = extraCa
      ? [
          { name: 'smtpwb run without NODE_EXTRA_CA_CERTS', figure: 'smtpwbRunNoExtraCa', reference: 'swaks' },
          { name: 'node -e 0 without NODE_EXTRA_CA_CERTS', figure: 'nodeBareNoExtraCa', reference: 'nodeBare' },
        ].map((r) => ({ ...r, wall: wall(r.figure), cpu: cpu(r.figure), refWall: wall(r.reference), refCpu: cpu(r.reference), ratio: wall(r.figure).median / wall(r.reference).median }))
      : [];
    if (JSON_OUT) {
      process.stdout.write(JSON.stringify({ bench: 'cli-startup', runs: RUNS, node: process.version, rows, informational }, null, 2) + '\n');
      return;
    }
    const refName: Record<string, string> = { swaks: 'swaks', nodeBare: 'node -e 0' };
    const ms = (s: { min: number; median: number; max: number }) => `${s.median.toFixed(0)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)})`;
    console.log(`cli-startup: medians of ${RUNS} alternating runs, Node ${process.version}`);
    for (const r of rows) {
      console.log(`  ${r.name}: wall ${ms(r.wall)}, CPU ${r.cpu.median.toFixed(0)} ms`);
      console.log(`    vs ${refName[r.reference]}: wall ${ms(r.refWall)}, CPU ${r.refCpu.median.toFixed(0)} ms`);
      console.log(`    ratio ${r.ratio.toFixed(2)}× (goal ≤ ${r.goal.toFixed(1)}×): ${r.met ? 'met' : 'NOT met'}`);
    }
    for (const r of informational) {
      console.log(`  ${r.name}: wall ${ms(r.wall)}, CPU ${r.cpu.median.toFixed(0)} ms`);
      console.log(`    vs ${refName[r.reference]} (with it): wall ${ms(r.refWall)}, CPU ${r.refCpu.median.toFixed(0)} ms`);
      console.log(`    ratio ${r.ratio.toFixed(2)}× (informational)`);
    }
  } finally {
    await exim.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
