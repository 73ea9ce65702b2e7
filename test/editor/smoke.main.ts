// A quick check that the in-editor test machinery works on this machine: starts code-server with
// SMTP Workbench and the harness, opens a fixture folder in Chromium, opens hello.smtp, asks the
// harness about the extension host, takes screenshots and prints timings.
//
// Usage: node scripts/build.mjs && node dist-test/test/editor/smoke.main.js [--untrusted] [--keep]
// --keep leaves code-server running (its URL is printed) until Ctrl+C.
import { startCodeServer } from './codeServer';
import { Workbench } from './workbench';

async function main(): Promise<void> {
  const untrusted = process.argv.includes('--untrusted');
  const keep = process.argv.includes('--keep');
  const t0 = Date.now();
  const ms = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const server = await startCodeServer({ folder: 'basic', trusted: !untrusted });
  console.log(`code-server answered after ${server.startupMs} ms at ${server.folderUrl} (extension: ${server.extension})`);
  let workbench: Workbench | undefined;
  try {
    workbench = await Workbench.open(server, { name: 'smoke' });
    console.log(`workbench visible at ${ms()}`);
    if (untrusted) {
      await workbench.waitForTrustDialog();
      console.log(`trust dialog shown at ${ms()}; screenshot: ${await workbench.screenshot('smoke-trust-dialog')}`);
      await workbench.answerTrustDialog(false);
      console.log(`trust declined at ${ms()}`);
    }
    const harness = await workbench.harness();
    const state = await harness.ping();
    console.log(`harness answered at ${ms()}: ${JSON.stringify(state)}`);
    await workbench.openFileFromExplorer('hello.smtp');
    await workbench.waitForEditorText('EHLO client.example.test');
    console.log(`hello.smtp shown at ${ms()}; language mode: ${await workbench.languageMode()}`);
    const classes = new Set((await workbench.renderedTokens()).map((t) => t.className));
    console.log(`token classes: ${[...classes].join(' ')}`);
    await workbench
      .waitForCodeLens('Run', 20_000)
      .then(() => console.log(`CodeLens "Run" shown at ${ms()}`))
      .catch((error: unknown) => console.log(String(error instanceof Error ? error.message : error)));
    console.log(`CodeLenses: ${(await workbench.codeLenses()).join(' | ') || 'none'}`);
    console.log(`screenshot: ${await workbench.screenshot('smoke-hello-smtp')}`);
    if (keep) {
      console.log(`keeping code-server at ${server.folderUrl}; press Ctrl+C to stop`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
  } catch (error) {
    if (workbench !== undefined) {
      console.log(`screenshot: ${await workbench.screenshot('smoke-failure').catch(() => 'none')}`);
      console.log(`logs: ${workbench.saveLogs('smoke')}`);
    }
    throw error;
  } finally {
    await workbench?.close();
    await server.stop();
    console.log(`stopped at ${ms()}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
