// Starts code-server (VS Code 1.100 served to a browser, with a Node extension host) for one
// workspace folder, with SMTP Workbench installed, in fully isolated HOME, XDG and user-data
// folders, on a free loopback port, in its own process group. See docs/testing-in-the-editor.md.
//
// The extension is installed either by symlinking the repository root (which holds package.json
// and dist/) into a fresh extensions folder, or from the .vsix that `npm run package` writes. The
// test harness extension (test/editor/harnessExtension/) is installed beside it unless disabled;
// it lets a test run vscode API calls in the extension host (see harnessClient.ts).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../peers/ports';
import { logTail, makeTempDir, removeTempDir, spawnPeer, PeerProcess } from '../peers/process';
import { buildHarnessExtension } from './harnessBuild';
import { privateHomeVariables } from '../support/privateHome';
import { codeServerEntry, editorUnavailableReason, extensionManifest, fixturesDir, repoRoot } from './paths';

/** How SMTP Workbench gets into the extensions folder. */
export type ExtensionInstall = 'link' | 'vsix' | 'none';

/** Options for startCodeServer(). */
export interface CodeServerOptions {
  /**
   * The workspace folder to open. A name of a folder under test/editor-fixtures/ is copied into
   * the run's temporary folder first (so the editor can write into it); an absolute path is opened
   * as it is.
   */
  folder: string;
  /** Trust the workspace (default true): passes --disable-workspace-trust. */
  trusted?: boolean;
  /**
   * User settings merged over the defaults (written to <user-data>/User/settings.json); a function
   * gets the instance's temporary folder and the workspace, e.g. to put a data folder there.
   */
  settings?: Record<string, unknown> | ((paths: { base: string; workspace: string }) => Record<string, unknown>);
  /**
   * How to install SMTP Workbench: 'link' symlinks the repository root, 'vsix' installs the .vsix
   * (smtp-workbench.vsix at the root, or $SMTPWB_EDITOR_VSIX), 'none' starts without it.
   * Default: $SMTPWB_EDITOR_EXTENSION, else 'vsix' when the .vsix exists and is newer than
   * dist/client.js, else 'link'.
   */
  extension?: ExtensionInstall;
  /** Install the test harness extension beside it (default true). */
  harness?: boolean;
  /** Extra environment for code-server and its extension host. */
  env?: Record<string, string>;
  /** Rewrites files of the copied fixture folder before the editor opens it. */
  prepare?: (workspace: string) => void;
  /** Milliseconds to wait for code-server to answer HTTP (default 30000). */
  startTimeoutMs?: number;
}

/** A running code-server. */
export interface CodeServer {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** The URL that opens the workspace folder. */
  folderUrl: string;
  port: number;
  /** The opened workspace folder. */
  workspace: string;
  /** The temporary folder holding everything of this instance. */
  base: string;
  home: string;
  userDataDir: string;
  extensionsDir: string;
  /** code-server's stdout and stderr. */
  logPath: string;
  /** How SMTP Workbench was installed. */
  extension: ExtensionInstall;
  trusted: boolean;
  /** Milliseconds from spawn until HTTP answered. */
  startupMs: number;
  /**
   * Where the harness extension writes its control files and results.json (undefined without the
   * harness). Each browser window has its own extension host: use Workbench.harness().
   */
  harnessDir: string | undefined;
  /** The last characters of code-server's log. */
  logTail(maxChars?: number): string;
  /** Copies code-server's and VS Code's logs into a folder (for the artifacts of a failed test). */
  collectLogs(dest: string): void;
  /** Stops the whole process group and removes the temporary folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** The settings every test starts from: quiet, no network, no distractions. */
export const DEFAULT_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'git.autoRepositoryDetection': false,
  'chat.commandCenter.enabled': false,
  'chat.disableAIFeatures': true,
  'editor.codeLens': true,
  'editor.minimap.enabled': false,
  'files.autoSave': 'off',
  // The harness and the capture server listen on loopback ports; code-server would offer each one.
  'remote.autoForwardPorts': false,
  'security.workspace.trust.startupPrompt': 'always',
  'security.workspace.trust.emptyWindow': false,
};

/** The .vsix that `npm run package` writes. */
function defaultVsixPath(): string {
  return process.env.SMTPWB_EDITOR_VSIX ?? join(repoRoot(), 'smtp-workbench.vsix');
}

/** Picks 'vsix' when a .vsix newer than the built client exists (and the build is dist/), else 'link'. */
function defaultInstall(): ExtensionInstall {
  const fromEnv = process.env.SMTPWB_EDITOR_EXTENSION;
  if (fromEnv === 'link' || fromEnv === 'vsix' || fromEnv === 'none') return fromEnv;
  // A side-by-side build (--dist elsewhere) is tested as built.
  if (builtDist() !== resolve(repoRoot(), 'dist')) return 'link';
  const vsix = defaultVsixPath();
  if (!existsSync(vsix)) return 'link';
  const client = join(builtDist(), 'client.js');
  try {
    return !existsSync(client) || statSync(vsix).mtimeMs >= statSync(client).mtimeMs ? 'vsix' : 'link';
  } catch {
    return 'link';
  }
}

/** The environment of code-server: the test's own, minus VS Code's, with isolated HOME and XDG. */
function isolatedEnv(base: string, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Variables of a VS Code the tests may be started from would confuse code-server's CLI.
    if (key.startsWith('VSCODE_') || key === 'ELECTRON_RUN_AS_NODE' || key === 'NODE_OPTIONS') continue;
    if (key.startsWith('npm_')) continue;
    env[key] = value;
  }
  // HOME and the XDG folders: one decision for every program a test starts (test/support/privateHome.ts).
  Object.assign(env, privateHomeVariables(base));
  env.XDG_RUNTIME_DIR = join(base, 'xdg', 'runtime');
  env.TMPDIR = join(base, 'tmp');
  for (const dir of [env.XDG_RUNTIME_DIR, env.TMPDIR]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { ...env, ...extra };
}

/** Runs the code-server CLI once (for --install-extension) and throws with its output on failure. */
function codeServerCli(args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(process.execPath, [codeServerEntry(), ...args], { env, encoding: 'utf8', timeout: 120_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) {
    throw new Error(`code-server ${args.join(' ')} failed (status ${String(result.status)}):\n${output}`);
  }
  return output;
}

/** Polls code-server's /healthz until it answers, the process dies or the time is up. */
async function waitForHttp(baseUrl: string, timeoutMs: number, peer: PeerProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!peer.running()) {
      throw new Error(`code-server exited before it answered HTTP; its log ends with:\n${logTail(logPath)}`);
    }
    try {
      const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`code-server did not answer ${baseUrl}/healthz within ${timeoutMs} ms (${lastError}); log:\n${logTail(logPath)}`);
}

/** Starts code-server for a workspace folder; see CodeServerOptions. */
export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const unavailable = editorUnavailableReason();
  if (unavailable !== undefined) throw new Error(unavailable);
  const trusted = options.trusted ?? true;
  const install = options.extension ?? defaultInstall();
  const withHarness = options.harness ?? true;
  const base = makeTempDir('editor');
  try {
    const env = isolatedEnv(base, options.env);
    const userDataDir = join(base, 'user-data');
    const extensionsDir = join(base, 'extensions');
    const harnessDir = join(base, 'harness-io');
    mkdirSync(join(userDataDir, 'User'), { recursive: true });
    mkdirSync(extensionsDir, { recursive: true });
    mkdirSync(harnessDir, { recursive: true });

    // The workspace: a fixture name is copied so that the editor (and the test) can write to it.
    let workspace = options.folder;
    if (!workspace.startsWith('/')) {
      const source = join(fixturesDir(), options.folder);
      if (!existsSync(source)) throw new Error(`no workspace fixture ${source}`);
      workspace = join(base, 'workspace', options.folder);
      cpSync(source, workspace, { recursive: true });
    }
    options.prepare?.(workspace);

    const settings = typeof options.settings === 'function' ? options.settings({ base, workspace }) : options.settings;
    writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...DEFAULT_SETTINGS, ...settings }, null, 2));

    // The extensions: the harness first (a folder), then SMTP Workbench.
    if (withHarness) {
      const harnessExt = join(base, 'harness-extension');
      const manifest = await buildHarnessExtension(harnessExt);
      symlinkSync(harnessExt, join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`));
    }
    if (install === 'link') {
      const manifest = extensionManifest();
      const dist = builtDist();
      if (!existsSync(join(dist, 'client.js'))) {
        throw new Error(`${dist}/client.js is missing: run \`node scripts/build.mjs\` before the in-editor tests`);
      }
      symlinkSync(linkedExtension(base, dist), join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`));
    } else if (install === 'vsix') {
      const vsix = defaultVsixPath();
      if (!existsSync(vsix)) throw new Error(`${vsix} is missing: run \`npm run package\` first`);
      codeServerCli(['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'], env);
    }

    const port = await freePort();
    const configPath = join(base, 'config.yaml');
    writeFileSync(configPath, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
    const args = [
      codeServerEntry(),
      '--config', configPath,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      '--user-data-dir', userDataDir,
      '--extensions-dir', extensionsDir,
      ...(trusted ? ['--disable-workspace-trust'] : []),
      workspace,
    ];
    const logPath = join(base, 'code-server.log');
    env.SMTPWB_HARNESS_DIR = harnessDir;
    const started = Date.now();
    const peer = spawnPeer(process.execPath, args, { env, logFile: logPath, marker: base, removeOnDeath: base, cwd: workspace });
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(baseUrl, options.startTimeoutMs ?? 30_000, peer, logPath);
    } catch (error) {
      await peer.stop();
      throw error;
    }
    const startupMs = Date.now() - started;

    let stopped = false;
    const server: CodeServer = {
      baseUrl,
      folderUrl: `${baseUrl}/?folder=${encodeURIComponent(workspace)}`,
      port,
      workspace,
      base,
      home: env.HOME ?? base,
      userDataDir,
      extensionsDir,
      logPath,
      extension: install,
      trusted,
      startupMs,
      harnessDir: withHarness ? harnessDir : undefined,
      logTail: (maxChars = 4000) => logTail(logPath, maxChars),
      collectLogs(dest: string): void {
        mkdirSync(dest, { recursive: true });
        try {
          cpSync(logPath, join(dest, 'code-server.log'));
          const vscodeLogs = join(userDataDir, 'logs');
          if (existsSync(vscodeLogs)) cpSync(vscodeLogs, join(dest, 'vscode-logs'), { recursive: true });
          for (const name of readdirSync(harnessDir)) cpSync(join(harnessDir, name), join(dest, `harness-${name}`));
        } catch {
          // Logs are a help for debugging; a missing one must not hide the test's own failure.
        }
      },
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        await peer.stop(3000);
        removeTempDir(base);
      },
    };
    return server;
  } catch (error) {
    removeTempDir(base);
    throw error;
  }
}

/**
 * The bundles these tests were built with: `node scripts/build.mjs --dist DIR` defines SMTPWB_DIST
 * in the test bundles, so a side-by-side build tests its own extension, not the shared dist/.
 */
function builtDist(): string {
  return resolve(process.env.SMTPWB_DIST ?? join(repoRoot(), 'dist'));
}

/**
 * The extension folder to link into the editor: the repository itself when its dist/ is the build,
 * else a folder of symbolic links to the repository's entries with dist/ pointing at the build.
 */
function linkedExtension(base: string, dist: string): string {
  const root = repoRoot();
  if (dist === resolve(root, 'dist')) return root;
  const folder = join(base, 'extension');
  mkdirSync(folder, { recursive: true });
  for (const entry of readdirSync(root)) {
    if (entry === 'dist' || entry === '.build' || entry === '.editor' || entry === '.git') continue;
    symlinkSync(join(root, entry), join(folder, entry));
  }
  symlinkSync(dist, join(folder, 'dist'));
  return folder;
}

/** Reads a JSON file the harness wrote, or undefined when it is not there (yet). */
export function readHarnessFile<T>(server: CodeServer, name: string): T | undefined {
  const path = join(server.base, 'harness-io', name);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
