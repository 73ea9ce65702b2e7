// How fast the CLI is as a whole process, each figure next to its reference measured in the same run
// (issue "speed where users feel it", part 1). The commands alternate, and each figure is the median
// of at least 10 runs, printed with the run's minimum and maximum:
//   1. `smtpwb run` of one session (EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) against
//      Exim  vs  swaks doing the same session against the same Exim            goal ≤ 1.0× swaks's wall time
//   2. `smtpwb --help`                   vs  `node -e 0` (the same Node)          goal ≤ 2×
//   3. `smtpwb lint` of one small file   vs  `node -e 0` (the same Node)          goal ≤ 2×
// The smtpwb side runs under every installed Node (the running one and the checkout's
// .node-versions/<major>, see scripts/install-node-versions.sh). The goals are judged on Node 22
// and later; Node 20, past its end of life, is shown for information. With NODE_EXTRA_CA_CERTS set,
// Node before 22 reads that file at every start (about 50–70 ms, `node -e 0` too, swaks not), so
// those versions are also timed without it (informational); Node 22 and later read it when the
// first TLS context is made, so their `smtpwb run` is also timed without it (informational). CPU time (user + system of the child,
// from /proc) is printed beside each wall time.
// Usage (from any folder: the checkout is found from this file's location):
//   node OUT/bench/cli-startup.main.js [--runs N] [--json]
import { numberOption } from './benchArgs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExim } from '../test/peers/exim';
import { repoRoot, requireBinary } from '../test/peers/require';
import { FIRST_JUDGED_MAJOR, benchNodes, benchVariants, extraCaCertsSet, notJudgedNote, spread, spreadText, timedProcess, withoutExtraCaCerts, type ProcessSample, type Spread } from './processTiming';

const argv = process.argv.slice(2);
const RUNS = Math.max(10, numberOption('--runs', 10, argv));
const JSON_OUT = argv.includes('--json');
const CLI = join(process.env.SMTPWB_DIST ?? join(repoRoot(), 'dist'), 'cli.js');

/** One command, timed in every round. */
interface Command {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** A figure beside its reference, both measured in this run. */
interface Row {
  name: string;
  node: string;
  judged: boolean;
  /** Timed without NODE_EXTRA_CA_CERTS. */
  withoutExtraCa: boolean;
  wall: Spread;
  cpu: Spread;
  reference: string;
  refWall: Spread;
  refCpu: Spread;
  goal: number;
  ratio: number;
  met: boolean;
}

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
    const stderrFile = join(work, 'stderr.txt');
    const nodes = benchNodes(repoRoot());
    const commands: Record<string, Command> = {
      swaks: {
        command: swaks,
        args: [
          '--server', `127.0.0.1:${exim.port}`, '--ehlo', 'client.example.test', '--tls', '--tls-verify', '--tls-ca-path', exim.caPath,
          '--tls-sni', 'mail.example.test', '--auth', 'PLAIN', '--auth-user', exim.user, '--auth-password', exim.pass,
          '--from', 'alice@example.test', '--to', 'bob@example.test', '--header', 'Subject: cli startup', '--body', 'hello',
        ],
        env,
      },
    };
    const variants = benchVariants(nodes, env);
    // Node 22 and later read NODE_EXTRA_CA_CERTS when the first TLS context is made (Node builds its
    // root store then, even for a context with its own `ca`), so their TLS session is also timed
    // without it, for information.
    const runOnly = variants.filter((v) => v.node.judged && extraCaCertsSet(env)).map((v) => ({ ...v, key: `${v.key}NoExtraCa`, withoutExtraCa: true }));
    for (const v of runOnly) commands[`${v.key}.run`] = { command: v.node.path, args: [CLI, 'run', script, '--var', `user=${exim.user}`], env: withoutExtraCaCerts(env) };
    for (const v of variants) {
      const e = v.withoutExtraCa ? withoutExtraCaCerts(env) : env;
      commands[`${v.key}.run`] = { command: v.node.path, args: [CLI, 'run', script, '--var', `user=${exim.user}`], env: e };
      commands[`${v.key}.help`] = { command: v.node.path, args: [CLI, '--help'], env: e };
      commands[`${v.key}.lint`] = { command: v.node.path, args: [CLI, 'lint', small], env: e };
      commands[`${v.key}.bare`] = { command: v.node.path, args: ['-e', '0'], env: e };
    }
    const samples: Record<string, ProcessSample[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
    // One warm-up of each, so the file cache (and each Node's code cache of the CLI) is warm for every command alike.
    for (const c of Object.values(commands)) await timedProcess(c.command, c.args, c.env, stderrFile);
    for (let i = 0; i < RUNS; i++) {
      for (const [name, c] of Object.entries(commands)) samples[name].push(await timedProcess(c.command, c.args, c.env, stderrFile));
    }
    const wall = (name: string) => spread(samples[name].map((s) => s.wallMs));
    const cpu = (name: string) => spread(samples[name].map((s) => s.cpuMs));
    const rows: Row[] = [];
    const kinds = [
      { kind: 'run', name: 'smtpwb run (STARTTLS + AUTH session to Exim)', reference: () => 'swaks', goal: 1.0 },
      { kind: 'help', name: 'smtpwb --help', reference: (key: string) => `${key}.bare`, goal: 2.0 },
      { kind: 'lint', name: 'smtpwb lint (one small file)', reference: (key: string) => `${key}.bare`, goal: 2.0 },
    ];
    for (const k of kinds) {
      for (const v of k.kind === 'run' ? [...variants, ...runOnly] : variants) {
        const figure = `${v.key}.${k.kind}`;
        const reference = k.reference(v.key);
        const ratio = wall(figure).median / wall(reference).median;
        rows.push({
          name: k.name,
          node: v.node.version,
          judged: v.node.judged && !v.withoutExtraCa,
          withoutExtraCa: v.withoutExtraCa,
          wall: wall(figure),
          cpu: cpu(figure),
          reference: reference === 'swaks' ? 'swaks' : `node -e 0 (${v.node.version}${v.withoutExtraCa ? ', without NODE_EXTRA_CA_CERTS' : ''})`,
          refWall: wall(reference),
          refCpu: cpu(reference),
          goal: k.goal,
          ratio,
          met: ratio <= k.goal,
        });
      }
    }
    if (JSON_OUT) {
      process.stdout.write(JSON.stringify({ bench: 'cli-startup', runs: RUNS, nodes, extraCaCerts: extraCaCertsSet(env), rows }, null, 2) + '\n');
      return;
    }
    const ms = (s: Spread) => spreadText(s, 0, ' ms');
    const judgedOn = nodes.filter((n) => n.judged).map((n) => n.version);
    console.log(`cli-startup: medians of ${RUNS} alternating runs (min, max); CPU is user + system of the process`);
    console.log(`  goals judged on ${judgedOn.length > 0 ? judgedOn.join(' and ') : 'no installed Node 22 or later (run scripts/install-node-versions.sh)'}; other versions and runs without NODE_EXTRA_CA_CERTS are informational`);
    for (const k of kinds) {
      const kindRows = rows.filter((r) => r.name === k.name);
      console.log(`  ${k.name}: goal ≤ ${k.goal.toFixed(1)}× ${k.kind === 'run' ? "swaks's wall time" : 'node -e 0 of the same Node'}`);
      if (k.kind === 'run') console.log(`    swaks: wall ${ms(wall('swaks'))}, CPU ${cpu('swaks').median.toFixed(0)} ms`);
      for (const r of kindRows) {
        const who = `Node ${r.node}${r.withoutExtraCa ? ' without NODE_EXTRA_CA_CERTS' : ''}`;
        console.log(`    ${who}: wall ${ms(r.wall)}, CPU ${r.cpu.median.toFixed(0)} ms${k.kind === 'run' ? '' : `; node -e 0 wall ${ms(r.refWall)}, CPU ${r.refCpu.median.toFixed(0)} ms`}`);
        const verdict = r.judged ? (r.met ? 'met' : 'NOT met') : r.withoutExtraCa ? 'informational' : notJudgedNote(nodes.find((n) => n.version === r.node)!);
        console.log(`      ${who}: ratio ${r.ratio.toFixed(2)}×${r.judged ? `: ${verdict}` : ` (${verdict})`}`);
      }
      if (!kindRows.some((r) => r.judged)) console.log(`      no Node ${FIRST_JUDGED_MAJOR} or later installed: NOT met (nothing to judge on)`);
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
