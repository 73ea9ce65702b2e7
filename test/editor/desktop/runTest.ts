// Runs the in-editor suite (test/editor/suite/) in a desktop VS Code with @vscode/test-electron:
// it builds the suite, copies test/editor-fixtures/basic into a temporary folder, downloads VS Code
// (or uses $SMTPWB_VSCODE_EXECUTABLE) and starts it with SMTP Workbench loaded from the repository
// as the extension under development.
//
// The download needs the internet (update.code.visualstudio.com). Where it is unreachable, as on
// the CI machines, this fails with a message that says so; there the same suite runs inside
// code-server (test/editor/editor.test.ts, its last test).
//
// Environment: SMTPWB_VSCODE_EXECUTABLE (a VS Code binary to use), SMTPWB_VSCODE_VERSION
// (default "stable"), SMTPWB_SUITE_FILTER (a regular expression selecting tests by name).
import { runTests } from '@vscode/test-electron';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SETTINGS } from '../codeServer';
import { buildSuite } from '../harnessBuild';
import { editorDir, fixturesDir, repoRoot } from '../paths';

/** Whether an error is the failed download of VS Code. */
function isDownloadFailure(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message} ${String((error as { code?: unknown }).code ?? '')}` : String(error);
  return /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|getaddrinfo|download|update\.code\.visualstudio\.com/i.test(text);
}

/** Builds and runs the suite; resolves with the process exit code. */
export async function runDesktopSuite(): Promise<number> {
  const started = Date.now();
  const suitePath = join(editorDir(), 'build', 'desktop', 'suite.js');
  await buildSuite(suitePath);

  const base = mkdtempSync(join(tmpdir(), 'smtpwb-desktop-'));
  try {
    const workspace = join(base, 'workspace');
    cpSync(join(fixturesDir(), 'basic'), workspace, { recursive: true });
    const userDataDir = join(base, 'user-data');
    mkdirSync(join(userDataDir, 'User'), { recursive: true });
    writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify(DEFAULT_SETTINGS, null, 2));
    const executable = process.env.SMTPWB_VSCODE_EXECUTABLE;
    try {
      const code = await runTests({
        ...(executable !== undefined && executable !== '' ? { vscodeExecutablePath: executable } : { version: process.env.SMTPWB_VSCODE_VERSION ?? 'stable' }),
        extensionDevelopmentPath: repoRoot(),
        extensionTestsPath: suitePath,
        extensionTestsEnv: process.env.SMTPWB_SUITE_FILTER ? { SMTPWB_SUITE_FILTER: process.env.SMTPWB_SUITE_FILTER } : {},
        launchArgs: [
          workspace,
          '--disable-extensions',
          '--disable-workspace-trust',
          '--skip-welcome',
          '--skip-release-notes',
          '--user-data-dir', userDataDir,
          '--extensions-dir', join(base, 'extensions'),
        ],
      });
      console.log(`desktop suite finished with exit code ${code} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return code;
    } catch (error) {
      if (isDownloadFailure(error) && (executable === undefined || executable === '')) {
        console.error(
          'test:desktop: cannot download VS Code here (no route to update.code.visualstudio.com): ' +
            `${error instanceof Error ? error.message : String(error)}\n` +
            'Set SMTPWB_VSCODE_EXECUTABLE to an installed VS Code, or run the same suite inside code-server:\n' +
            '  bash scripts/install-editor.sh && node scripts/build.mjs && ' +
            "node --test --test-name-pattern='in-editor suite' dist-test/test/editor/editor.test.js",
        );
        return 2;
      }
      console.error(`test:desktop: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
