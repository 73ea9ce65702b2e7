// The flows of issue 5 in a real editor: code-server (VS Code 1.100) driven through Debian's
// Chromium with playwright-core. Each flow is its own test and leaves a screenshot in
// .test-artifacts/editor/<timestamp>/ (the folder is printed at the start of the run).
//
// They need code-server and Chromium (bash scripts/install-editor.sh); when either is missing they
// fail and say what to install. SMTPWB_EDITOR_TESTS=0 skips them (scripts/test-all.sh runs them in
// a step of their own, and `npm run test:unit` leaves them out).
//
// Flows whose feature does not exist yet fail with a message naming what was missing, e.g.
// "no CodeLens 'Run' within 20 s".
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { publicKeyRecord, signMessage } from '../../client/src/mailAuth/sign';
import { startExim, EximPeer } from '../peers/exim';
import { startKnot, type KnotPeer } from '../peers/knot';
import { aggregateXml, gzip, type AggregateSpec } from '../reports/generate';
import { freePort } from '../peers/ports';
import { CodeServer, readHarnessFile, startCodeServer } from './codeServer';
import { editorUnavailableReason } from './paths';
import type { SuiteReport } from './suite/miniTest';
import { EXACT_TYPING_SETTINGS, poll, Workbench } from './workbench';

/** Why the suite is skipped, or false when it runs. */
// CI never skips them; on a developer's machine SMTPWB_EDITOR_TESTS=0 leaves them out.
const skip: string | false = process.env.SMTPWB_EDITOR_TESTS === '0' && process.env.CI !== 'true' ? 'SMTPWB_EDITOR_TESTS=0 skips the in-editor tests' : false;

/**
 * Names the tests rely on, in one place for when the extension settles on them. The view titles
 * are what the view headers show; the ids are those of package.json's contributes.views.
 */
const UI = {
  languageMode: 'SMTP',
  emlLanguageMode: /^(Email Message|EML)$/i,
  runLens: 'Run',
  runAllLens: 'Run all',
  localInboxView: 'smtp.localInbox',
  localInboxTitle: 'Local Inbox',
  testExplorerView: 'workbench.view.testing',
  testExplorerTitle: 'Test Explorer',
  /** The subject of hello.smtp's message, as the Local Inbox lists it. */
  helloSubject: 'Editor test hello',
  eximSubject: 'Editor test via Exim',
  /** The title of hello.smtp's session (the Test Explorer's item label). */
  helloSession: 'Send hello to the local inbox',
} as const;

/**
 * User settings for every flow (the defaults of codeServer.ts apply underneath): the embedded
 * capture server listens on a free port (not 2525, which other tests may use) and keeps its
 * messages in the instance's temporary folder.
 */
function editorSettings(localServerPort: number): (paths: { base: string }) => Record<string, unknown> {
  return ({ base }) => ({
    'smtp.localServer.port': localServerPort,
    'smtp.localServer.folder': join(base, 'local-inbox'),
    // Verification of captured mail (on by default) needs DNS; flows that check it turn it on with Knot.
    'smtp.localServer.verify': false,
  });
}

/** Resolves whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs one flow in a fresh browser page on the given code-server: always takes a screenshot
 * named after the flow, and on failure also a failure screenshot and the logs.
 */
async function flow(server: CodeServer, name: string, body: (workbench: Workbench) => Promise<void>, size: { width?: number; height?: number } = {}): Promise<void> {
  const workbench = await Workbench.open(server, { name, ...size });
  try {
    await body(workbench);
    const shot = await workbench.screenshot(name);
    process.stdout.write(`# ${name}: screenshot ${shot}\n`);
  } catch (error) {
    const shot = await workbench.screenshot(`${name}-FAILED`).catch(() => 'none');
    const logs = workbench.saveLogs(name);
    process.stdout.write(`# ${name} failed: screenshot ${shot}, logs ${logs}\n`);
    // The browser console often says why (an exception in a webview, a failed request).
    const errors = workbench.consoleErrors().filter((line) => !/Failed to load resource/.test(line));
    if (error instanceof Error && errors.length > 0) error.message += `\n  browser console errors:\n    ${errors.join('\n    ')}`;
    throw error;
  } finally {
    await workbench.close();
  }
}

/** A loopback listener that counts connections (and answers like an SMTP server would start). */
interface Sentinel {
  port: number;
  connections(): number;
  close(): Promise<void>;
}

async function startSentinel(): Promise<Sentinel> {
  let count = 0;
  const server = net.createServer((socket) => {
    count += 1;
    socket.end('554 5.7.0 this listener must not be reached by an untrusted workspace\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the sentinel has no port');
  return {
    port: address.port,
    connections: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Replaces the placeholder target smtp://127.0.0.1:1 of a workspace file (port 1, where nothing
 * listens, so that running the fixture by accident fails at once) with a real port.
 */
function pointAt(workspace: string, file: string, port: number): void {
  const path = join(workspace, file);
  const text = readFileSync(path, 'utf8');
  if (!text.includes('smtp://127.0.0.1:1\n')) throw new Error(`${file} has no placeholder smtp://127.0.0.1:1`);
  writeFileSync(path, text.replace('smtp://127.0.0.1:1\n', `smtp://127.0.0.1:${port}\n`));
}

/**
 * Writes the report flows' reports into a workspace with the report generator
 * (test/reports/generate.ts): a folder `dmarc/` of two days of DMARC aggregate reports (one of
 * them compressed) from two sources, one failing DKIM and SPF, and a `broken-report.xml` whose
 * count is not a number.
 */
function writeDmarcReports(workspace: string): void {
  const records = (day: number) => [
    { sourceIp: '192.0.2.10', count: 120 + day * 40, disposition: 'none' as const, dkim: 'pass' as const, spf: 'pass' as const, headerFrom: 'example.com', envelopeFrom: 'bounce.example.com', dkimDomain: 'example.com', dkimSelector: 's1', dkimResult: 'pass', spfDomain: 'bounce.example.com', spfResult: 'pass' },
    { sourceIp: '198.51.100.7', count: 30 + day * 10, disposition: 'quarantine' as const, dkim: 'fail' as const, spf: 'fail' as const, headerFrom: 'news.example.com', envelopeFrom: 'mailer.example.net', dkimDomain: 'esp.example.net', dkimSelector: 's2', dkimResult: 'fail', spfDomain: 'mailer.example.net', spfResult: 'softfail' },
  ];
  const spec = (day: number): AggregateSpec => ({ format: 'rfc9990', orgName: 'receiver.example', email: 'dmarc@receiver.example', reportId: `editor-${day}`, begin: 1767225600 + day * 86400, end: 1767225600 + day * 86400 + 86399, domain: 'example.com', p: 'quarantine', records: records(day) });
  mkdirSync(join(workspace, 'dmarc'), { recursive: true });
  writeFileSync(join(workspace, 'dmarc', 'receiver.example!example.com!1767225600!1767311999.xml'), aggregateXml(spec(0)));
  writeFileSync(join(workspace, 'dmarc', 'receiver.example!example.com!1767312000!1767398399.xml.gz'), gzip(aggregateXml(spec(1))));
  writeFileSync(join(workspace, 'broken-report.xml'), aggregateXml(spec(2)).replace(/<count>\d+<\/count>/, '<count>many</count>'));
}

describe('SMTP Workbench in a real editor (code-server + Chromium)', { skip, concurrency: 1 }, () => {
  let server: CodeServer | undefined;

  before(async () => {
    const missing = editorUnavailableReason();
    if (missing !== undefined) throw new Error(missing);
    const t0 = Date.now();
    server = await startCodeServer({ folder: 'basic', settings: editorSettings(await freePort()) });
    process.stdout.write(`# code-server up in ${Date.now() - t0} ms (extension installed by ${server.extension}) at ${server.folderUrl}\n`);
  });

  after(async () => {
    await server?.stop();
  });

  /** The shared code-server, or a clear failure when before() could not start it. */
  const running = (): CodeServer => {
    if (server === undefined) throw new Error('code-server did not start (see the first failure)');
    return server;
  };

  test('(a) a .smtp file: language mode SMTP, syntax colours, CodeLens "Run"', { timeout: 90_000 }, async () => {
    await flow(running(), 'a-open-smtp', async (wb) => {
      await wb.openFileFromExplorer('hello.smtp');
      await wb.waitForEditorText('EHLO client.example.test');
      await wb.waitForLanguageMode(UI.languageMode);
      await wb.waitForSyntaxColours(2, 15_000);
      await wb.waitForCodeLens(UI.runLens, 20_000);
      // "Run all" heads a file with more than one session.
      await wb.openFileFromExplorer('pair.smtp');
      await wb.waitForEditorText('### Second of a pair');
      await wb.waitForCodeLens(UI.runAllLens, 20_000);
      await wb.waitForCodeLens(UI.runLens, 5_000, 1);
    });
  });

  test('(b) a broken script: its diagnostic shows in the Problems panel', { timeout: 90_000 }, async () => {
    await flow(running(), 'b-problems', async (wb) => {
      await wb.openFileFromExplorer('broken.smtp');
      await wb.waitForEditorText('undefinedSender');
      await wb.waitForProblem(/undefinedSender|smtp-variable-undefined/, 20_000);
    });
  });

  test('(c) Run via CodeLens against the local capture server: the transcript shows 250', { timeout: 90_000 }, async () => {
    await flow(running(), 'c-run-local', async (wb) => {
      await wb.openFileFromExplorer('hello.smtp');
      await wb.waitForEditorText('EHLO client.example.test');
      await wb.clickCodeLens(UI.runLens, 20_000);
      const transcript = await wb.waitForWebviewText(/\b250\b/, 20_000);
      assert.match(transcript, /EHLO client\.example\.test/, 'the transcript should show the commands sent');
    });
  });

  test('(d) Run via CodeLens against a real Exim: the transcript shows 250 and Exim delivers', { timeout: 120_000 }, async () => {
    const exim: EximPeer = await startExim();
    try {
      pointAt(running().workspace, 'exim.smtp', exim.port);
      await flow(running(), 'd-run-exim', async (wb) => {
        await wb.openFileFromExplorer('exim.smtp');
        await wb.waitForEditorText(`127.0.0.1:${exim.port}`);
        await wb.clickCodeLens(UI.runLens, 20_000);
        const transcript = await wb.waitForWebviewText(/\b250\b/, 20_000);
        assert.match(transcript, /mail\.example\.test/, "the transcript should show Exim's greeting");
        const messages = await exim.waitForMessages(1, 20_000);
        assert.match(messages[0]?.toString('utf8') ?? '', new RegExp(`Subject: ${UI.eximSubject}`));
      });
    } finally {
      await exim.stop();
    }
  });

  test('(e) the Local Inbox view lists the received message and opens it as .eml', { timeout: 90_000 }, async () => {
    await flow(running(), 'e-local-inbox', async (wb) => {
      // Send a message first, so that this flow does not depend on (c).
      await wb.openFileFromExplorer('hello.smtp');
      await wb.waitForEditorText('EHLO client.example.test');
      await wb.clickCodeLens(UI.runLens, 20_000);
      await wb.focusView(UI.localInboxView);
      // The inbox refreshes when the message file appears and when the server reports it; a row
      // clicked during a refresh belongs to the old tree and opens nothing, so a person (and this
      // test) clicks again.
      for (let attempt = 1; ; attempt++) {
        const row = await wb.waitForTreeRow(UI.localInboxTitle, UI.helloSubject, 20_000);
        await row.dblclick();
        const opened = await wb.waitForLanguageMode(UI.emlLanguageMode, 5_000).then(() => true, () => false);
        if (opened) break;
        if (attempt === 3) {
          await wb.waitForLanguageMode(UI.emlLanguageMode, 10_000);
          break;
        }
      }
      await wb.waitForEditorText(`Subject: ${UI.helloSubject}`);
    });
  });

  test('(h) an .eml message opens as Email Message, and Preview Message shows it in a webview', { timeout: 90_000 }, async () => {
    await flow(running(), 'h-eml-preview', async (wb) => {
      await wb.openFileFromExplorer('sample.eml');
      await wb.waitForLanguageMode(UI.emlLanguageMode, 15_000);
      await wb.waitForEditorText('Subject: A sample message');
      // The preview comes from the feature bundle loaded on first use (client/src/lazy/emlTools).
      const harness = await wb.harness();
      await harness.executeCommand('smtp.eml.preview', { $uri: 'sample.eml' });
      await wb.waitForWebviewText('A sample message for the in-editor tests.', 20_000);
    });
  });

  test('(j) SMTP History keeps the run and reopens its transcript; the walkthrough opens its example', { timeout: 90_000 }, async () => {
    await flow(running(), 'j-history-walkthrough', async (wb) => {
      await wb.openFileFromExplorer('hello.smtp');
      await wb.waitForEditorText('EHLO client.example.test');
      await wb.clickCodeLens(UI.runLens, 20_000);
      await wb.waitForWebviewText(/\b250\b/, 20_000);
      // Close the live transcript, then open the run again from the history.
      const harness = await wb.harness();
      await harness.executeCommand('workbench.action.closeAllEditors');
      await wb.focusView('smtp.history');
      for (let attempt = 1; ; attempt++) {
        const row = await wb.waitForTreeRow('SMTP History', UI.helloSession, 20_000);
        await row.click();
        const shown = await wb.waitForWebviewText(/Passed/, 5_000).then(() => true, () => false);
        if (shown) break;
        if (attempt === 3) {
          await wb.waitForWebviewText(/Passed/, 10_000);
          break;
        }
      }
      await harness.executeCommand('smtp.walkthrough.openExample');
      await wb.waitForEditorText('### Hello, local inbox');
      await wb.waitForCodeLens(UI.runLens, 20_000);
    });
  });

  test('(f) the Test Explorer shows the session and its result', { timeout: 90_000 }, async () => {
    await flow(running(), 'f-test-explorer', async (wb) => {
      const harness = await wb.harness();
      // The extension registers its TestController when it activates.
      await wb.openFileFromExplorer('hello.smtp');
      await wb.waitForEditorText('EHLO client.example.test');
      await wb.activateExtension();
      await wb.focusView(UI.testExplorerView);
      // The items appear once the controller has discovered the workspace's .smtp files; each
      // file is a row whose children are its sessions.
      await wb.expandRow(await wb.waitForTreeRow(UI.testExplorerTitle, 'hello.smtp', 20_000));
      const row = await wb.waitForTreeRow(UI.testExplorerTitle, UI.helloSession, 10_000);
      // Run just this session with the row's own "Run Test" action (it shows on hover).
      await row.hover();
      const runAction = row.locator('.action-label.codicon-testing-run-icon').first();
      if (await runAction.isVisible().catch(() => false)) await runAction.click();
      else await harness.executeCommand('testing.runCurrentFile');
      const deadline = Date.now() + 30_000;
      let label = '';
      for (;;) {
        label = (await row.getAttribute('aria-label').catch(() => null)) ?? '';
        const passedIcons = await row.locator('.codicon-testing-passed-icon').count().catch(() => 0);
        if (/passed/i.test(label) || passedIcons > 0) break;
        if (/failed|errored/i.test(label)) throw new Error(`the Test Explorer shows the session as failed: ${label}`);
        if (Date.now() > deadline) {
          throw new Error(`the Test Explorer did not show "${UI.helloSession}" as passed within 30 s (row: ${label})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
  });

  test('(g) untrusted workspace: nothing connects, and Run explains why', { timeout: 120_000 }, async () => {
    const sentinel = await startSentinel();
    const localServerPort = await freePort();
    let untrusted: CodeServer | undefined;
    try {
      untrusted = await startCodeServer({
        folder: 'untrusted',
        trusted: false,
        settings: editorSettings(localServerPort),
        prepare: (workspace) => pointAt(workspace, 'probe.smtp', sentinel.port),
      });
      await flow(untrusted, 'g-untrusted', async (wb) => {
        await wb.waitForTrustDialog();
        await wb.screenshot('g-untrusted-trust-dialog');
        await wb.answerTrustDialog(false);
        const state = await (await wb.harness()).ping();
        assert.equal(state.trusted, false, 'the workspace should be untrusted after declining');
        await wb.openFileFromExplorer('probe.smtp');
        await wb.waitForEditorText('CONNECT {{server}}');
        await wb.clickCodeLens(UI.runLens, 20_000).catch((error: unknown) => {
          throw new Error(
            `${error instanceof Error ? error.message : String(error)}; in an untrusted workspace the extension should still ` +
              'offer Run (capabilities.untrustedWorkspaces: limited) and explain that running needs trust',
          );
        });
        await wb.waitForNotification(/trust/i, 15_000);
        // Give a wrongly started session the time to connect before looking.
        await new Promise((resolve) => setTimeout(resolve, 2000));
        assert.equal(sentinel.connections(), 0, 'an untrusted workspace must not connect anywhere');
        assert.equal(await listening(localServerPort), false, 'an untrusted workspace must not start the local capture server');
      });
      assert.equal(sentinel.connections(), 0, 'an untrusted workspace must not connect anywhere');
    } finally {
      await untrusted?.stop();
      await sentinel.close();
    }
  });

  test('(i) the Mail DNS sidebar checks a domain served by Knot and lists its checks', { timeout: 120_000 }, async () => {
    // A small zone with the records of a well-configured domain; the sidebar asks Knot directly.
    const zone = [
      '@ 300 IN MX 10 mail.dns-editor.test.',
      'mail 300 IN A 127.0.0.1',
      '@ 300 IN TXT "v=spf1 mx -all"',
      '_dmarc 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@dns-editor.test"',
    ].join('\n');
    let knot: KnotPeer | undefined;
    let server: CodeServer | undefined;
    try {
      knot = await startKnot({ zones: { 'dns-editor.test': zone } });
      const dnsServer = knot.address;
      const base = editorSettings(await freePort());
      server = await startCodeServer({ folder: 'basic', settings: (paths) => ({ ...base(paths), 'smtp.dns.server': dnsServer }) });
      await flow(server, 'i-mail-dns', async (wb) => {
        const harness = await wb.harness();
        await harness.extension('smtp-workbench.smtp-workbench', true);
        await harness.executeCommand('smtp.mailDns.checkDomain', 'dns-editor.test');
        await wb.focusView('smtp.mailDns');
        await wb.waitForTreeRow('Mail DNS', /dns-editor\.test/, 30_000);
        await wb.waitForTreeRow('Mail DNS', /SPF/, 30_000);
        await wb.waitForTreeRow('Mail DNS', /DMARC/, 30_000);
      });
    } finally {
      await server?.stop();
      await knot?.stop();
    }
  });

  test('(l) a script in the second column: its secret is asked up front in an input, the transcript reuses the first column, and the CodeLens run shows in the Test Explorer', { timeout: 150_000 }, async () => {
    await flow(running(), 'l-column-secret-tests', async (wb) => {
      const harness = await wb.harness();
      // hello.smtp in the first column, secret.smtp in the second.
      await wb.openFileFromExplorer('hello.smtp');
      await wb.waitForEditorText('EHLO client.example.test');
      await harness.executeCommand('workbench.action.splitEditorRight');
      await poll(async () => ((await wb.editorGroups()) === 2 ? true : undefined), 10_000, 'the editor did not split into two columns');
      await wb.quickOpen('secret.smtp');
      await wb.waitForEditorText('{{$secret editor-token}}');
      await wb.clickCodeLens(UI.runLens, 20_000);
      // Asked before the session starts, in the quick input at the top (not a notification)...
      await wb.answerInput(/SMTP secret "editor-token"/, 'tok-editor-42');
      // ...and whether to keep it is a modal question, not a toast that could slip away.
      await wb.answerDialog(/Store the secret "editor-token"/, /Only for this window/);
      const transcript = await wb.waitForWebviewText(/Passed/, 30_000);
      assert.match(transcript, /token\+\*{8}@example\.test/, 'the secret is masked in the transcript');
      assert.doesNotMatch(transcript, /tok-editor-42/);
      assert.equal(await wb.editorGroups(), 2, 'the transcript went into the first column, not a third');
      assert.deepEqual((await wb.notifications()).filter((m) => /Store the secret|editor-token/i.test(m)), [], 'no question about the secret went to a notification');
      // The CodeLens run is a test run too.
      await wb.focusView(UI.testExplorerView);
      await wb.expandRow(await wb.waitForTreeRow(UI.testExplorerTitle, 'secret.smtp', 20_000));
      const row = await wb.waitForTreeRow(UI.testExplorerTitle, 'Send with a secret', 10_000);
      let label = '';
      await poll(
        async () => {
          label = (await row.getAttribute('aria-label').catch(() => null)) ?? '';
          return (await row.locator('.codicon-testing-passed-icon').count().catch(() => 0)) > 0 || /passed/i.test(label) ? true : undefined;
        },
        20_000,
        () => `the Test Explorer does not show the CodeLens run as passed (row: ${label})`,
      );
    });
  });

  test('(m) a transcript about 360 px wide: its steps are rows that wrap by word, and nothing overflows', { timeout: 90_000 }, async () => {
    // A narrow window: the side bar, the script and the transcript beside it share 1060 px.
    await flow(
      running(),
      'm-narrow-transcript',
      async (wb) => {
        await wb.openFileFromExplorer('hello.smtp');
        await wb.waitForEditorText('EHLO client.example.test');
        await wb.clickCodeLens(UI.runLens, 20_000);
        const layout = await wb.evaluateInWebview(/Passed/, (body) => {
          const doc = (body as { ownerDocument: { documentElement: { clientWidth: number; scrollWidth: number }; querySelectorAll(s: string): ArrayLike<{ getBoundingClientRect(): { width: number; height: number } }> } }).ownerDocument;
          const cells = Array.from(doc.querySelectorAll('table.steps td.code')).map((td) => td.getBoundingClientRect());
          return {
            width: doc.documentElement.clientWidth,
            overflow: doc.documentElement.scrollWidth - doc.documentElement.clientWidth,
            cells: cells.length,
            narrowest: Math.min(...cells.map((c) => c.width)),
          };
        }, 30_000);
        wb.note(`transcript layout: ${JSON.stringify(layout)}`);
        assert.ok(layout.width <= 420, `the transcript should be narrow for this check (it is ${layout.width} px)`);
        assert.ok(layout.overflow <= 1, `nothing overflows sideways (${layout.overflow} px do)`);
        assert.ok(layout.cells > 0, 'the steps are shown');
        assert.ok(layout.narrowest >= 120, `no command or reply is squeezed to a few characters a line (narrowest ${layout.narrowest} px)`);
      },
      { width: 1060, height: 900 },
    );
  });

  test('(o) the transcript shows a slow session as it happens, and its Cancel ends it with QUIT', { timeout: 120_000 }, async () => {
    // A server that greets and answers EHLO, then holds its reply to MAIL until the client says QUIT.
    let sawQuit = false;
    const sockets = new Set<net.Socket>();
    const slow = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.write('220 slow.example.test ESMTP\r\n');
      let pending = '';
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1');
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).replace(/\r$/, '');
          pending = pending.slice(nl + 1);
          const verb = line.split(' ')[0].toUpperCase();
          if (verb === 'EHLO') socket.write('250-slow.example.test\r\n250 PIPELINING\r\n');
          else if (verb === 'QUIT') {
            sawQuit = true;
            socket.end('451 4.7.1 try again later\r\n221 2.0.0 bye\r\n');
          } else if (verb !== 'MAIL') socket.write('250 ok\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const address = slow.address();
    try {
      if (address === null || typeof address === 'string') throw new Error('the slow server has no port');
      pointAt(running().workspace, 'slow.smtp', address.port);
      await flow(running(), 'o-live-cancel', async (wb) => {
        await wb.openFileFromExplorer('slow.smtp');
        await wb.waitForEditorText(`127.0.0.1:${address.port}`);
        await wb.clickCodeLens(UI.runLens, 20_000);
        // While the server holds its reply, the panel already shows what was said.
        const live = await wb.waitForWebviewText(/MAIL FROM:<alice@example\.test>/, 30_000);
        assert.match(live, /220 slow\.example\.test ESMTP/);
        assert.match(live, /Running/);
        await wb.screenshot('o-live-cancel-running');
        await wb.clickInWebview(/MAIL FROM:<alice@example\.test>/, 'button[data-action="cancel"]');
        await wb.waitForWebviewText(/Cancelled/, 20_000);
        assert.ok(sawQuit, 'the session ended with QUIT');
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  test('(n) the .eml preview follows the active editor', { timeout: 90_000 }, async () => {
    await flow(running(), 'n-preview-follows', async (wb) => {
      await wb.openFileFromExplorer('sample.eml');
      await wb.waitForEditorText('Subject: A sample message');
      await wb.runCommand('SMTP: Preview Message');
      await wb.waitForWebviewText('A sample message for the in-editor tests.', 20_000);
      // Another message brought to the front: the one preview shows it.
      await wb.openFileFromExplorer('other.eml');
      await wb.waitForEditorText('Subject: Another message');
      await wb.waitForWebviewText('The preview follows the active editor to this message.', 20_000);
      assert.equal(await wb.page.locator('.tabs-container .tab', { hasText: 'Preview other.eml' }).count(), 1, 'the preview is titled after the message it shows');
      assert.equal(await wb.page.locator('.tabs-container .tab', { hasText: 'Preview sample.eml' }).count(), 0, 'one preview, not one per message');
    });
  });

  test('(k) Sign with DKIM, Verify Authentication against Knot, and the environment picker', { timeout: 180_000 }, async () => {
    // An Ed25519 key whose public half Knot serves at ed1._domainkey.sign-editor.test (RFC 8463).
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const zone = ['@ 300 IN TXT "v=spf1 -all"', `ed1._domainkey 300 IN TXT "${publicKeyRecord(pem)}"`].join('\n');
    let knot: KnotPeer | undefined;
    let server: CodeServer | undefined;
    try {
      knot = await startKnot({ zones: { 'sign-editor.test': zone } });
      const dnsServer = knot.address;
      const base = editorSettings(await freePort());
      server = await startCodeServer({
        folder: 'basic',
        settings: (paths) => ({
          ...base(paths),
          'smtp.dns.server': dnsServer,
          'smtp.environments': { staging: { helo: 'staging.example.test' }, dev: { helo: 'dev.example.test' } },
        }),
      });
      await flow(server, 'k-sign-verify', async (wb) => {
        await wb.openFileFromExplorer('sample.eml');
        await wb.waitForEditorText('Subject: A sample message');
        await wb.runCommand('SMTP: Sign with DKIM');
        await wb.answerInput(/Signing domain/, 'sign-editor.test');
        await wb.answerInput(/Selector/, 'ed1');
        await wb.pickQuickItem('Paste a private key');
        // Pasted into a one-line input: the line breaks become spaces, as when a user pastes.
        await wb.answerInput(/Paste the private key/, pem.trim().replace(/\n/g, ' '));
        await wb.waitForActiveTab('sample.signed.eml', 20_000);
        await wb.waitForEditorText('DKIM-Signature');
        await wb.waitForNotification(/Publish the key as TXT at ed1\._domainkey\.sign-editor\.test/, 15_000);
        // Verify the signed message: the report (Markdown, beside) says the signature holds.
        await wb.runCommand('SMTP: Verify Authentication');
        await wb.waitForEditorText('dkim=pass', 30_000);
      });
      await flow(server, 'k-environment-picker', async (wb) => {
        await wb.openFileFromExplorer('env.smtp');
        await wb.waitForEditorText('EHLO {{helo}}');
        await wb.waitForProblem(/helo/, 20_000);
        await wb.clickStatusBarItem(/SMTP: No Environment/);
        await wb.pickQuickItem('staging');
        await wb.waitForStatusBarItem(/SMTP: staging/);
        // The language server learns the environment's names: the problem goes.
        await poll(async () => ((await wb.problems()).some((p) => /helo/.test(`${p.label} ${p.text}`)) ? undefined : true), 20_000, 'the undefined-variable problem stayed after picking an environment');
        await wb.clickCodeLens(UI.runLens, 20_000);
        const transcript = await wb.waitForWebviewText(/EHLO staging\.example\.test/, 30_000);
        assert.match(transcript, /Passed/);
      });
    } finally {
      await server?.stop();
      await knot?.stop();
    }
  });

  test('(p) the Local Inbox shows the rules in force, a DKIM-signed message\'s authentication results and the rule that answered', { timeout: 180_000 }, async () => {
    // A key whose public half Knot serves, with SPF and DMARC for the sender's domain, so that the
    // capture server's verification (smtp.localServer.verify) has real answers to give.
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const zone = ['@ 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"', '_dmarc 300 IN TXT "v=DMARC1; p=reject"', `sel._domainkey 300 IN TXT "${publicKeyRecord(pem)}"`].join('\n');
    let knot: KnotPeer | undefined;
    let server: CodeServer | undefined;
    try {
      knot = await startKnot({ zones: { 'inbox-editor.test': zone } });
      const dnsServer = knot.address;
      const message = Buffer.from(
        'From: Alice <alice@inbox-editor.test>\r\nTo: <bob@example.test>\r\nSubject: Signed for the inbox\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <p@inbox-editor.test>\r\n\r\nA DKIM-signed message.\r\n',
      );
      const signed = await signMessage(message, { domain: 'inbox-editor.test', selector: 'sel', privateKeyPem: pem });
      const base = editorSettings(await freePort());
      server = await startCodeServer({
        folder: 'basic',
        prepare: (workspace) => {
          writeFileSync(join(workspace, 'signed.eml'), signed);
          writeFileSync(
            join(workspace, 'capture-rules.json'),
            `${JSON.stringify({ version: 1, rules: [{ name: 'unknown user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user here' }] }, null, 2)}\n`,
          );
          writeFileSync(
            join(workspace, 'signed.smtp'),
            ['### Send a signed message to the local inbox', 'CONNECT local', 'EHLO client.inbox-editor.test', 'MAIL FROM:<alice@inbox-editor.test>', 'RCPT TO:<bob@example.test>', 'RCPT TO:<nobody@example.test>', 'EXPECT 550', 'DATA < signed.eml', 'EXPECT 250', 'QUIT', ''].join('\n'),
          );
        },
        settings: (paths) => ({ ...base(paths), 'smtp.dns.server': dnsServer, 'smtp.localServer.rules': 'capture-rules.json', 'smtp.localServer.verify': true }),
      });
      await flow(
        server,
        'p-local-inbox-authentication',
        async (wb) => {
          await wb.openFileFromExplorer('signed.smtp');
          await wb.waitForEditorText('DATA < signed.eml');
          await wb.clickCodeLens(UI.runLens, 20_000);
          await wb.waitForWebviewText(/Passed/, 30_000);
          // The editors are closed before the view is focused: focusing it while the command
          // palette is open would close the palette (CI once failed that way).
          await wb.runCommand('View: Close All Editors');
          await wb.focusView(UI.localInboxView);
          // A wider side bar, so that the description (verdicts and rule) shows in full.
          await wb.widenSideBar(860);
          // With a description the view's header may show no title, so rows are found in the side bar.
          const sideBarRow = (text: RegExp, timeoutMs: number) => wb.waitForSideBarRow(text, timeoutMs);
          await wb.expandSideBarRow(/Rules in force/, /unknown user.*reply 550/, 20_000);
          // The verification runs after the message is stored; the row shows its verdicts then.
          const row = await sideBarRow(/Signed for the inbox.*dkim=pass spf=pass dmarc=pass/, 30_000);
          // The message opens as .eml, with its diagnostics, beside the inbox.
          await row.click();
          await wb.waitForLanguageMode(UI.emlLanguageMode, 15_000);
          await wb.waitForEditorText('DKIM-Signature');
          const tooltip = await wb.hoverText(row.locator('.monaco-icon-label').first(), /Authentication/, 10_000);
          assert.match(tooltip, /DKIM pass \(d=inbox-editor\.test s=sel\)/);
          assert.match(tooltip, /"unknown user" \(reply\) at RCPT: 550 5\.1\.1 No such user here/);
          assert.match(tooltip, /Transfer: DATA/);
        },
        { width: 1600, height: 1000 },
      );
    } finally {
      await server?.stop();
      await knot?.stop();
    }
  });

  test('(r) the rules file edited and saved in the editor: the capture server reloads it, the next message meets the new rule (the transcript names it), and a broken version is a problem that leaves the last good rules in force', { timeout: 180_000 }, async () => {
    // The rules of test/editor-fixtures/rules/capture-rules.json, then the same with a rule that
    // rejects blocked@, then a version with an error: a rule that would let blocked@ through with a
    // 2xx reply, which no rule may give (rules-reply-code). Had the server taken the broken
    // version, the second run's EXPECT 550 would fail.
    const rule = (name: string, recipient: string, reply: string) => `    { "name": "${name}", "when": { "command": "RCPT", "recipient": "${recipient}" }, "reply": "${reply}" }`;
    const rulesFile = (...rules: string[]) => `{\n  "version": 1,\n  "rules": [\n${rules.join(',\n')}\n  ]\n}\n`;
    const unknownUser = rule('unknown user', 'nobody@*', '550 5.1.1 No such user here');
    const blocked = rule('blocked by policy', 'blocked@*', '550 5.7.1 Blocked by the reloaded rules');
    const letThrough = rule('let it through', 'blocked@*', '250 2.1.5 Let it through');
    let server: CodeServer | undefined;
    try {
      const base = editorSettings(await freePort());
      server = await startCodeServer({ folder: 'rules', settings: (paths) => ({ ...base(paths), ...EXACT_TYPING_SETTINGS, 'smtp.localServer.rules': 'capture-rules.json' }) });
      await flow(
        server,
        'r-rules-reload',
        async (wb) => {
          const harness = await wb.harness();
          await wb.openFileFromExplorer('capture-rules.json');
          await wb.waitForEditorText('"unknown user"');
          await wb.runCommand('SMTP: Start Local Capture Server');
          await wb.focusView(UI.localInboxView);
          await wb.widenSideBar(760);
          await wb.expandSideBarRow(/Rules in force.*1 rule \(capture-rules\.json\)/, /unknown user.*reply 550/, 20_000);

          // Edit the file in its editor and save it: the server reads it again.
          await wb.replaceEditorText(rulesFile(unknownUser, blocked));
          await wb.saveActiveEditor();
          await wb.waitForSideBarRow(/Rules in force.*2 rules \(capture-rules\.json\)/, 20_000);
          await wb.waitForSideBarRow(/blocked by policy.*RCPT recipient=blocked@\*.*reply 550 5\.7\.1 Blocked by the reloaded rules/, 10_000);

          // A run meets the new rule: blocked@ is refused, bob@ gets the message.
          await wb.openFileFromExplorer('rules.smtp');
          await wb.waitForEditorText('RCPT TO:<blocked@example.test>');
          await wb.clickCodeLens(UI.runLens, 20_000);
          const transcript = await wb.waitForWebviewText(/Passed/, 30_000);
          assert.match(transcript, /550 5\.7\.1 Blocked by the reloaded rules/, 'the transcript shows the new rule\'s reply');
          assert.match(transcript, /capture server: rule "blocked by policy" \(reply\) at RCPT: 550 5\.7\.1 Blocked by the reloaded rules/, 'the transcript names the rule that answered');
          await wb.focusView(UI.localInboxView);
          await wb.waitForSideBarRow(/Editor test rules reload.*rule "blocked by policy"/, 20_000);
          await wb.screenshot('r-rules-reload-applied');

          // A broken version: a problem in the editor, a warning that the rules in force stay, and
          // the Local Inbox says so.
          await harness.executeCommand('workbench.action.closeAllEditors');
          await wb.openFileFromExplorer('capture-rules.json');
          await wb.waitForEditorText('"blocked by policy"');
          await wb.replaceEditorText(rulesFile(letThrough, unknownUser, blocked));
          await wb.saveActiveEditor();
          await wb.waitForProblem(/rules-reply-code|4xx or 5xx/, 20_000);
          await wb.waitForNotification(/capture-rules\.json:4:.*The rules in force stay/, 20_000);

          // The server still answers with the last good rules.
          await harness.executeCommand('workbench.action.closeAllEditors');
          await wb.openFileFromExplorer('rules.smtp');
          await wb.waitForEditorText('RCPT TO:<blocked@example.test>');
          await wb.clickCodeLens(UI.runLens, 20_000);
          const again = await wb.waitForWebviewText(/Passed|Failed/, 30_000);
          assert.match(again, /Passed/, 'the last good rules still refuse blocked@');
          assert.match(again, /550 5\.7\.1 Blocked by the reloaded rules/);

          // The Local Inbox says that the file was refused and the last good rules are in force.
          await wb.focusView(UI.localInboxView);
          await wb.waitForSideBarRow(/Rules in force.*2 rules \(capture-rules\.json\) · the file has 1 error \(line 4\): last good rules in force/, 20_000);
        },
        { width: 1600, height: 1000 },
      );
    } finally {
      await server?.stop();
    }
  });

  test('(q) a DMARC aggregate report: Open Report View answers "is the domain all right, who fails" first, tables sort and filter from the keyboard, and a broken report is a problem', { timeout: 120_000 }, async () => {
    writeDmarcReports(running().workspace);
    await flow(
      running(),
      'q-report-view',
      async (wb) => {
        await wb.openFileFromExplorer('broken-report.xml');
        await wb.waitForEditorText('<feedback');
        // The command activates the extension; the language server then validates the open report.
        await wb.runCommand('SMTP: Open Report View');
        await wb.waitForWebviewText(/Top failing sources/, 30_000);
        await wb.waitForProblem(/dmarc-agg-value|many/, 30_000);
        // The whole folder: both days, one of them compressed.
        const harness = await wb.harness();
        await harness.executeCommand('smtp.reports.open', { $uri: 'dmarc' });
        const text = await wb.waitForWebviewText(/2 files: 2 DMARC aggregate reports/, 30_000);
        // The verdict comes first: the domain, its pass rate, and who fails.
        const verdict = text.slice(0, text.indexOf('Top failing sources'));
        assert.match(verdict, /example\.com: 80\.0% of 350 messages pass DMARC; 70 fail, from 1 source/);
        assert.match(verdict, /198\.51\.100\.7: 70 of 70 messages fail, From news\.example\.com/);
        assert.match(verdict, /p=quarantine/);
        assert.match(text, /Check DNS: news\.example\.com/);
        // Reverse DNS is asked for, never done on opening (the closed network refuses the system resolver).
        assert.match(text, /Look up reverse DNS of 2 sources/);
        // Sorting from the keyboard: the header's button takes Enter and Space, and says its order.
        const view = await wb.webviewBody(/Top failing sources/);
        const header = view.locator('#sources thead th:nth-child(2)');
        const firstSource = () => view.locator('#sources tbody tr').first().locator('td').first().innerText();
        await header.locator('button.sort').focus();
        await wb.page.keyboard.press('Enter');
        assert.equal(await header.getAttribute('aria-sort'), 'ascending');
        assert.equal(await firstSource(), '198.51.100.7');
        await wb.page.keyboard.press('Space');
        assert.equal(await header.getAttribute('aria-sort'), 'descending');
        assert.equal(await firstSource(), '192.0.2.10');
        // The filter box, typed into, says how many rows it shows.
        await view.locator('input.filter').focus();
        await wb.page.keyboard.type('softfail');
        await poll(async () => ((await view.locator('#sources-shown').innerText()) === '1 of 2 shown' ? true : undefined), 5_000, 'the filter did not narrow the sources to 1 of 2');
        await wb.page.keyboard.press('Control+A');
        await wb.page.keyboard.press('Backspace');
        await view.evaluate((body) => (body as { ownerDocument: { defaultView: { scrollTo(x: number, y: number): void } } }).ownerDocument.defaultView.scrollTo(0, 0));
        // The export button reaches the extension: it asks where to save.
        await view.locator('button[data-export="csv"]').click();
        await wb.waitForQuickPick(/Export the report summary as CSV/, 15_000);
        await wb.page.keyboard.press('Escape');
        // The screenshot (docs/images/report-view.png) shows the view, not the Problems panel.
        await harness.executeCommand('workbench.action.closePanel');
      },
      { width: 1400, height: 1000 },
    );
  });

  test('(s) the report view about 360 px wide in a dark theme: nothing overflows the page, wide tables scroll in their own boxes', { timeout: 120_000 }, async () => {
    let server: CodeServer | undefined;
    try {
      const base = editorSettings(await freePort());
      server = await startCodeServer({ folder: 'basic', prepare: writeDmarcReports, settings: (paths) => ({ ...base(paths), 'workbench.colorTheme': 'Default Dark Modern' }) });
      await flow(
        server,
        's-report-view-narrow-dark',
        async (wb) => {
          const harness = await wb.harness();
          await harness.executeCommand('smtp.reports.open', { $uri: 'dmarc' });
          const layout = await wb.evaluateInWebview(/Top failing sources/, (body) => {
            type Box = { getBoundingClientRect(): { width: number }; scrollWidth: number; clientWidth: number };
            const doc = (body as { ownerDocument: { documentElement: Box; body: Box; querySelectorAll(s: string): ArrayLike<Box> } }).ownerDocument;
            const style = (doc as unknown as { defaultView: { getComputedStyle(e: unknown): { backgroundColor: string; color: string } } }).defaultView.getComputedStyle(doc.body);
            return {
              width: doc.documentElement.clientWidth,
              overflow: doc.documentElement.scrollWidth - doc.documentElement.clientWidth,
              scrollingTables: Array.from(doc.querySelectorAll('.scroll')).filter((b) => b.scrollWidth > b.clientWidth).length,
              background: style.backgroundColor,
              colour: style.color,
            };
          });
          wb.note(`report view layout: ${JSON.stringify(layout)}`);
          assert.ok(layout.width <= 380, `the view should be narrow for this check (it is ${layout.width} px)`);
          assert.ok(layout.overflow <= 1, `nothing overflows the page sideways (${layout.overflow} px do)`);
          assert.ok(layout.scrollingTables > 0, 'the wide tables scroll in their boxes');
          // A dark theme: light text on a dark background, from the theme's variables.
          const luminance = (rgb: string) => (rgb.match(/\d+/g) ?? ['0', '0', '0']).slice(0, 3).reduce((n, c) => n + Number(c), 0) / 3;
          assert.ok(luminance(layout.background) < 80 && luminance(layout.colour) > 150, `dark theme colours (background ${layout.background}, text ${layout.colour})`);
        },
        { width: 578, height: 1000 },
      );
    } finally {
      await server?.stop();
    }
  });

  test('(t) the transcript of a run that sent a message: "Check bulk-sender requirements" lists each requirement, as the run saw it, with its source', { timeout: 150_000 }, async () => {
    // Knot answers for the sender's domain (SPF for 127.0.0.1, DMARC) and for the sending IP's
    // reverse DNS, so that the check has real answers; basic/bulk.smtp's message has the RFC 8058
    // headers but no DKIM signature, and the session does not use STARTTLS.
    let knot: KnotPeer | undefined;
    let server: CodeServer | undefined;
    try {
      knot = await startKnot({
        zones: {
          'bulk-editor.test': ['@ 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"', '_dmarc 300 IN TXT "v=DMARC1; p=reject"', 'mail 300 IN A 127.0.0.1'].join('\n'),
          '0.0.127.in-addr.arpa': '1 300 IN PTR mail.bulk-editor.test.',
        },
      });
      const dnsServer = knot.address;
      const base = editorSettings(await freePort());
      server = await startCodeServer({
        folder: 'basic',
        settings: (paths) => ({ ...base(paths), 'smtp.dns.server': dnsServer }),
      });
      await flow(
        server,
        't-run-bulk-check',
        async (wb) => {
          await wb.openFileFromExplorer('bulk.smtp');
          await wb.waitForEditorText('List-Unsubscribe-Post');
          await wb.clickCodeLens(UI.runLens, 20_000);
          await wb.waitForWebviewText(/Passed/, 30_000);
          await wb.clickInWebview(/Passed/, 'button[data-action="checkBulk"]');
          const pick = await wb.waitForQuickPick(/Bulk-sender requirements of "Newsletter from a run" \(message at line 9, without TLS, from 127\.0\.0\.1\): \d+ of \d+ fail/, 30_000);
          assert.ok(pick.rows.length >= 5, `a row per requirement (rows: ${pick.rows.join(' | ')})`);
          // One requirement at a time, found by its code as a person would type it.
          const row = async (code: string) => {
            await wb.page.locator('.quick-input-widget input').first().fill(code);
            const found = wb.page.locator('.quick-input-list .monaco-list-row', { hasText: code }).first();
            await found.waitFor({ state: 'visible', timeout: 10_000 });
            return (await found.innerText()).replace(/\s+/g, ' ');
          };
          assert.match(await row('bulk-tls'), /fail · bulk-tls/);
          assert.match(await row('bulk-fcrdns'), /pass · bulk-fcrdns.*mail\.bulk-editor\.test/);
          assert.match(await row('bulk-spf'), /pass · bulk-spf/);
          assert.match(await row('bulk-dkim'), /fail · bulk-dkim.*https:\/\//);
          await wb.page.locator('.quick-input-widget input').first().fill('');
        },
        { width: 1400, height: 1000 },
      );
    } finally {
      await server?.stop();
      await knot?.stop();
    }
  });

  test('the in-editor suite (vscode API) passes inside code-server through the harness', { timeout: 180_000 }, async () => {
    const server = running();
    // The suite needs a window: its extension host opens editors through the browser. It runs
    // the way a person would run it: from the command palette; the harness writes results.json.
    await flow(server, 'suite-in-code-server', async (wb) => {
      await wb.harness();
      const resultsPath = join(server.harnessDir ?? '', 'results.json');
      rmSync(resultsPath, { force: true });
      await wb.runCommand('SMTP Workbench Harness: Run In-Editor Suite');
      const report = await poll(async () => readHarnessFile<SuiteReport>(server, 'results.json'), 150_000, 'the harness wrote no results.json within 150 s');
      const lines = report.results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.durationMs} ms)${r.ok ? '' : `: ${(r.error ?? '').split('\n')[0]}`}`);
      process.stdout.write(`# in-editor suite (${report.durationMs} ms):\n# ${lines.join('\n# ')}\n`);
      assert.equal(report.failed, 0, `in-editor suite failures:\n${lines.filter((l) => l.startsWith('FAIL')).join('\n')}`);
    });
  });
});
