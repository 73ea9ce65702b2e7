// Drives VS Code's workbench in Debian's Chromium with playwright-core: what a user sees and does.
// Every wait has an explicit time limit and fails with a message that says what was missing
// (for example "no CodeLens 'Run' within 20 s"). See docs/testing-in-the-editor.md.
import { appendFileSync, chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type { CodeServer } from './codeServer';
import { connectHarness, controlFiles, HarnessClient } from './harnessClient';
import { CHROMIUM_ARGS } from '../support/chromium';
import { privateHomeVariables } from '../support/privateHome';
import { artifactsDir, chromiumPath } from './paths';

/** The little of the DOM that the page functions below use (the project compiles without lib.dom). */
interface DomElement {
  className: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
}

/** setpriv lets Chromium learn that the test process died (see chromiumLauncher()). */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/**
 * The executable to launch: Chromium itself, or, when setpriv exists, a wrapper in `dir` that
 * execs Chromium with a parent-death signal. Playwright closes the browser when the test process
 * exits normally or on SIGINT/SIGTERM; the wrapper also covers a test process killed by SIGKILL
 * (a timeout in CI), which would otherwise leave Chromium running.
 */
function chromiumLauncher(dir: string): string {
  if (SETPRIV === undefined) return chromiumPath();
  const wrapper = join(dir, 'chromium-with-pdeathsig.sh');
  if (!existsSync(wrapper)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(wrapper, `#!/bin/sh\nexec ${SETPRIV} --pdeathsig KILL -- ${chromiumPath()} "$@"\n`);
    chmodSync(wrapper, 0o755);
  }
  return wrapper;
}

/**
 * Editor settings under which replaceEditorText() puts in exactly the text given: without them
 * the editor closes brackets and quotes and indents new lines as if a person typed them.
 */
export const EXACT_TYPING_SETTINGS: Readonly<Record<string, unknown>> = {
  'editor.autoClosingBrackets': 'never',
  'editor.autoClosingQuotes': 'never',
  'editor.autoClosingOvertype': 'never',
  'editor.autoSurround': 'never',
  'editor.autoIndent': 'none',
  'editor.formatOnType': false,
};

/** Options for Workbench.open(). */
export interface WorkbenchOptions {
  /** Viewport size (default 1440 x 900). */
  width?: number;
  height?: number;
  /** Milliseconds to wait for the workbench to show (default 30000). */
  timeoutMs?: number;
  /** A name for this workbench's screenshots and logs (default: "workbench"). */
  name?: string;
}

/** One token of the editor's rendering: its text and its CSS classes (mtk1 is the default colour). */
export interface RenderedToken {
  text: string;
  className: string;
}

/** A row of the Problems panel. */
export interface ProblemRow {
  /** The row's accessible label, e.g. "Error: … at line 7 column 13". */
  label: string;
  /** The visible text. */
  text: string;
}

/** Replaces the non-breaking spaces of rendered editor text and trims. */
function normalise(text: string): string {
  return text.replace(/\u00a0/g, ' ').replace(/[\ue000-\uf8ff]/g, '').trim();
}

/** Escapes a string for use in a regular expression. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether a process exists. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls check() until it returns a value other than undefined, or throws `message` after ms. */
export async function poll<T>(check: () => Promise<T | undefined>, ms: number, message: string | (() => string)): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(typeof message === 'string' ? message : message());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let screenshotCounter = 0;

/** A browser showing code-server's workbench, with helpers for what the tests do. */
export class Workbench {
  /** Messages of the page's console and its errors, kept for the artifacts. */
  readonly consoleLog: string[] = [];

  private harnessClient: Promise<HarnessClient> | undefined;

  private constructor(
    readonly server: CodeServer,
    readonly browser: Browser,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly name: string,
    /** The harness control files that existed before this page opened (other windows' hosts). */
    private readonly oldControlFiles: ReadonlySet<string>,
  ) {}

  /**
   * The harness in this window's extension host: runs vscode API calls there (commands, open a
   * file, diagnostics, the in-editor suite). Needs code-server started with the harness (default).
   */
  harness(timeoutMs = 30_000): Promise<HarnessClient> {
    const dir = this.server.harnessDir;
    if (dir === undefined) return Promise.reject(new Error('code-server was started without the harness extension'));
    this.harnessClient ??= connectHarness(dir, timeoutMs, this.oldControlFiles);
    // A failed attempt may be retried later (the extension host may just have been slow).
    this.harnessClient.catch(() => (this.harnessClient = undefined));
    return this.harnessClient;
  }

  /** Launches Chromium, opens the server's folder and waits until the workbench shows. */
  static async open(server: CodeServer, options: WorkbenchOptions = {}): Promise<Workbench> {
    const browser = await chromium.launch({
      executablePath: chromiumLauncher(server.base),
      headless: true,
      args: [...CHROMIUM_ARGS],
      // Chromium writes to ~/.config/chromium and $XDG_CACHE_HOME/chromium: keep all of it in the
      // instance's temporary folder (removed by server.stop()).
      env: { ...process.env, ...privateHomeVariables(join(server.base, 'chromium')) },
    });
    try {
      const context = await browser.newContext({
        viewport: { width: options.width ?? 1440, height: options.height ?? 900 },
        // The clipboard and the like must not prompt.
        permissions: ['clipboard-read', 'clipboard-write'],
      });
      const page = await context.newPage();
      const oldControlFiles = new Set(server.harnessDir !== undefined ? controlFiles(server.harnessDir) : []);
      const workbench = new Workbench(server, browser, context, page, options.name ?? 'workbench', oldControlFiles);
      page.on('console', (message) => workbench.consoleLog.push(`[${message.type()}] ${message.text()}`));
      page.on('pageerror', (error) => workbench.consoleLog.push(`[pageerror] ${error.message}`));
      await page.goto(server.folderUrl, { waitUntil: 'domcontentloaded', timeout: options.timeoutMs ?? 30_000 });
      await workbench.waitForWorkbench(options.timeoutMs ?? 30_000);
      return workbench;
    } catch (error) {
      await browser.close().catch(() => undefined);
      throw error;
    }
  }

  /** Waits for the workbench and its explorer (or, in an untrusted folder, the trust dialog). */
  async waitForWorkbench(timeoutMs = 30_000): Promise<void> {
    try {
      await this.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
      await this.page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: timeoutMs });
    } catch {
      throw new Error(`the workbench did not show within ${timeoutMs / 1000} s at ${this.server.folderUrl}`);
    }
  }

  /**
   * Activates an extension in this window's extension host through the harness (SMTP Workbench by
   * default), so that its views and commands exist before a test uses them.
   */
  async activateExtension(id = 'smtp-workbench.smtp-workbench', timeoutMs = 30_000): Promise<void> {
    const harness = await this.harness(timeoutMs);
    const state = await harness.extension(id, true);
    if (!state.installed) throw new Error(`extension ${id} is not installed in code-server`);
    if (!state.active) throw new Error(`extension ${id} did not activate`);
  }

  /** Saves a screenshot as <artifacts>/<n>-<name>.png and returns its path. */
  async screenshot(name: string): Promise<string> {
    screenshotCounter += 1;
    const safe = name.replace(/[^a-zA-Z0-9._-]+/g, '-').slice(0, 80);
    const path = join(artifactsDir(), `${String(screenshotCounter).padStart(2, '0')}-${safe}.png`);
    await this.page.screenshot({ path, timeout: 15_000 });
    return path;
  }

  /** The last errors of the page's console (uncaught exceptions and console.error). */
  consoleErrors(max = 5): string[] {
    return this.consoleLog.filter((line) => line.startsWith('[error]') || line.startsWith('[pageerror]')).slice(-max);
  }

  /** Writes the page's console log and code-server's logs into <artifacts>/<name>-logs/. */
  saveLogs(name: string): string {
    const dir = join(artifactsDir(), `${name.replace(/[^a-zA-Z0-9._-]+/g, '-')}-logs`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'browser-console.log'), this.consoleLog.join('\n') + '\n');
    this.server.collectLogs(dir);
    return dir;
  }

  /**
   * Closes the window and the browser (not code-server). The page first navigates away, which
   * disconnects the window gracefully so that code-server ends its extension host; a browser that
   * just closes leaves the extension host running for hours (for a reconnection that never comes),
   * still holding what it opened, such as the capture server's port.
   */
  async close(): Promise<void> {
    // The harness knows this window's extension host; it is up by the time a flow ends.
    const harness = this.server.harnessDir !== undefined ? await this.harness(3000).catch(() => undefined) : undefined;
    await this.page.goto('about:blank', { timeout: 10_000 }).catch(() => undefined);
    if (harness !== undefined) {
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && processAlive(harness.pid)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.browser.close().catch(() => undefined);
  }

  // --- Files and editors --------------------------------------------------------------------

  /** A row of the explorer by file or folder name. */
  private explorerRow(name: string): Locator {
    return this.page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name.replace(/"/g, '\\"')}"]`);
  }

  /**
   * Opens a file by clicking it in the explorer; `path` is relative to the workspace ("a/b.smtp"
   * expands folder a first). Waits until its editor tab is active.
   */
  async openFileFromExplorer(path: string, timeoutMs = 15_000): Promise<void> {
    const explorer = this.page.locator('.explorer-folders-view');
    if (!(await explorer.isVisible())) await this.page.keyboard.press('Control+Shift+E');
    await explorer.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
      throw new Error(`the explorer did not show within ${timeoutMs / 1000} s`);
    });
    const parts = path.split('/');
    for (const [index, part] of parts.entries()) {
      const row = this.explorerRow(part).first();
      await row.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
        throw new Error(`no "${part}" in the explorer within ${timeoutMs / 1000} s (opening ${path})`);
      });
      const isFolder = index < parts.length - 1;
      if (isFolder) {
        if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
      } else {
        await row.dblclick();
      }
    }
    await this.waitForActiveTab(parts[parts.length - 1] ?? path, timeoutMs);
  }

  /** Opens a file through Quick Open (Ctrl+P), by its path relative to the workspace. */
  async quickOpen(path: string, timeoutMs = 15_000): Promise<void> {
    await this.focusWorkbench();
    await this.page.keyboard.press('Control+P');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: timeoutMs });
    await input.fill(path);
    const name = path.split('/').pop() ?? path;
    await this.page
      .locator('.quick-input-list .monaco-list-row', { hasText: name })
      .first()
      .waitFor({ state: 'visible', timeout: timeoutMs })
      .catch(() => {
        throw new Error(`Quick Open found no "${path}" within ${timeoutMs / 1000} s`);
      });
    await this.page.keyboard.press('Enter');
    await this.waitForActiveTab(name, timeoutMs);
  }

  /** Waits until the active editor tab has the given label. */
  async waitForActiveTab(label: string, timeoutMs = 15_000): Promise<void> {
    const tab = this.page.locator('.tabs-container .tab.active', { hasText: label });
    await tab.first().waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
      throw new Error(`no active editor tab "${label}" within ${timeoutMs / 1000} s`);
    });
  }

  /** The active editor. */
  activeEditor(): Locator {
    return this.page.locator('.editor-group-container.active .monaco-editor').first();
  }

  /** The rendered text of the active editor's visible lines. */
  async editorText(): Promise<string> {
    const lines = this.activeEditor().locator('.view-lines');
    return normalise(await lines.innerText({ timeout: 5000 }));
  }

  /** Waits until the active editor shows the text. */
  async waitForEditorText(text: string, timeoutMs = 15_000): Promise<void> {
    await poll(
      async () => ((await this.editorText()).includes(text) ? true : undefined),
      timeoutMs,
      `the editor did not show "${text}" within ${timeoutMs / 1000} s`,
    );
  }

  /**
   * Replaces the whole text of the active editor: click into it, select all, put the new text in
   * as one input. The editor still treats that input as typing, so give the instance
   * EXACT_TYPING_SETTINGS (no auto-closing, no auto-indent), or brackets come out doubled.
   */
  async replaceEditorText(text: string): Promise<void> {
    await this.activeEditor().locator('.view-lines').click();
    await this.page.keyboard.press('Control+A');
    await this.page.keyboard.insertText(text);
  }

  /** Saves the active editor (Ctrl+S) and waits until its tab no longer shows unsaved changes. */
  async saveActiveEditor(timeoutMs = 10_000): Promise<void> {
    await this.page.keyboard.press('Control+S');
    await poll(
      async () => ((await this.page.locator('.tabs-container .tab.active.dirty').count()) === 0 ? true : undefined),
      timeoutMs,
      `the active editor was still unsaved ${timeoutMs / 1000} s after Ctrl+S`,
    );
  }

  /** The tokens of the active editor's visible lines with their classes (mtkN = colour N). */
  async renderedTokens(): Promise<RenderedToken[]> {
    return this.activeEditor()
      .locator('.view-lines .view-line span > span')
      .evaluateAll((elements) =>
        (elements as unknown as DomElement[]).map((e) => ({ text: e.textContent ?? '', className: e.className })),
      );
  }

  /** The distinct colour classes (mtkN) of the visible tokens, without the default mtk1. */
  async colourClasses(): Promise<string[]> {
    const classes = new Set<string>();
    for (const token of await this.renderedTokens()) {
      for (const name of token.className.split(/\s+/)) if (/^mtk\d+$/.test(name) && name !== 'mtk1') classes.add(name);
    }
    return [...classes].sort();
  }

  /** Waits until the active editor shows at least `min` token colours besides the default. */
  async waitForSyntaxColours(min = 2, timeoutMs = 15_000): Promise<string[]> {
    let last: string[] = [];
    return poll(
      async () => {
        last = await this.colourClasses();
        return last.length >= min ? last : undefined;
      },
      timeoutMs,
      () => `no syntax colours within ${timeoutMs / 1000} s: ${last.length} token colour(s) besides the default (${last.join(' ') || 'none'}), expected ${min}`,
    );
  }

  /** The language mode shown in the status bar (e.g. "SMTP"). */
  async languageMode(timeoutMs = 10_000): Promise<string> {
    const item = this.page.locator('[id="status.editor.mode"]');
    await item.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
      throw new Error(`the status bar shows no language mode within ${timeoutMs / 1000} s`);
    });
    return normalise(await item.innerText());
  }

  /** Waits until the status bar's language mode matches. */
  async waitForLanguageMode(expected: string | RegExp, timeoutMs = 15_000): Promise<string> {
    let last = '';
    return poll(
      async () => {
        last = await this.languageMode(timeoutMs);
        const ok = typeof expected === 'string' ? last === expected : expected.test(last);
        return ok ? last : undefined;
      },
      timeoutMs,
      () => `the status bar language mode is "${last}", not ${String(expected)}, after ${timeoutMs / 1000} s`,
    );
  }

  // --- CodeLens -------------------------------------------------------------------------------

  /** The CodeLens links of the active editor, e.g. ["Run all", "Run"]. */
  async codeLenses(): Promise<string[]> {
    const links = this.activeEditor().locator('.codelens-decoration a');
    return (await links.allInnerTexts()).map(normalise);
  }

  /**
   * The CodeLens link with the label, waiting for it. The label must match the whole link, apart
   * from an icon before it and a parenthesised note after it ("Run all" matches "Run all (2)",
   * "Run" does not match "Run all").
   */
  async waitForCodeLens(label: string, timeoutMs = 20_000, index = 0): Promise<Locator> {
    const pattern = new RegExp(`^\\s*(?:\\$\\([^)]*\\)\\s*)?[\\ue000-\\uf8ff]?\\s*${escapeRegExp(label)}(?:\\s*\\([^)]*\\))?\\s*$`, 'i');
    const link = this.activeEditor().locator('.codelens-decoration a', { hasText: pattern }).nth(index);
    await link.waitFor({ state: 'visible', timeout: timeoutMs }).catch(async () => {
      const seen = await this.codeLenses().catch(() => []);
      throw new Error(
        `no CodeLens '${label}' within ${timeoutMs / 1000} s (CodeLenses shown: ${seen.length > 0 ? seen.join(' | ') : 'none'})`,
      );
    });
    return link;
  }

  /** Clicks a CodeLens by label (the index-th one with that label). */
  async clickCodeLens(label: string, timeoutMs = 20_000, index = 0): Promise<void> {
    const link = await this.waitForCodeLens(label, timeoutMs, index);
    await link.click();
  }

  // --- Commands, views, panels ----------------------------------------------------------------

  /** Gives the keyboard focus to the workbench (not to a webview or the browser chrome). */
  async focusWorkbench(): Promise<void> {
    await this.page.locator('.monaco-workbench').focus().catch(() => undefined);
  }

  /**
   * Runs a command through the command palette: F1, type the title, Enter. The first row must
   * contain the title, so give it exactly as the palette shows it ("SMTP: Run All Sessions").
   */
  async runCommand(title: string, timeoutMs = 10_000): Promise<void> {
    const input = this.page.locator('.quick-input-widget input');
    for (let attempt = 1; ; attempt++) {
      await this.focusWorkbench();
      await this.page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
        throw new Error(`the command palette did not open within ${timeoutMs / 1000} s`);
      });
      try {
        await input.fill(`>${title}`, { timeout: 5000 });
        break;
      } catch (error) {
        // The palette closes when something else takes the focus (a view that a command just
        // focused, say) between opening and typing: it is opened again, twice at most.
        if (attempt >= 3) throw error;
      }
    }
    const first = this.page.locator('.quick-input-list .monaco-list-row').first();
    await poll(
      async () => {
        const label = normalise((await first.getAttribute('aria-label', { timeout: 500 })) ?? (await first.innerText({ timeout: 500 })));
        return label.toLowerCase().includes(title.toLowerCase()) ? true : undefined;
      },
      timeoutMs,
      `no command "${title}" in the command palette within ${timeoutMs / 1000} s`,
    ).catch(async (error: unknown) => {
      await this.page.keyboard.press('Escape');
      throw error;
    });
    await this.page.keyboard.press('Enter');
  }

  /**
   * Focuses a view. With an id ("workbench.view.testing", "smtpWorkbench.inbox") it runs the
   * view's `<id>.focus` command through the harness; with { name } it uses the palette's
   * "view " quick access ("Local Inbox").
   */
  async focusView(view: string | { name: string }, timeoutMs = 10_000): Promise<void> {
    if (typeof view === 'string') {
      const harness = await this.harness();
      await harness.executeCommand(`${view}.focus`).catch((error: unknown) => {
        throw new Error(`cannot focus view ${view}: ${error instanceof Error ? error.message : String(error)}`);
      });
      return;
    }
    await this.focusWorkbench();
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: timeoutMs });
    await input.fill(`view ${view.name}`);
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: view.name }).first();
    await row.waitFor({ state: 'visible', timeout: timeoutMs }).catch(async () => {
      await this.page.keyboard.press('Escape');
      throw new Error(`no view "${view.name}" in "Open View" within ${timeoutMs / 1000} s`);
    });
    await this.page.keyboard.press('Enter');
  }

  /**
   * The view with the title, e.g. "Local Inbox": its pane, or, when the view is alone in its
   * container (its title then shows in the container's title bar), the whole side bar or panel.
   */
  pane(title: string): Locator {
    const titled = new RegExp(`^\\s*${escapeRegExp(title)}`, 'i');
    const pane = this.page.locator('.pane', { has: this.page.locator('.pane-header', { hasText: titled }) });
    const part = this.page.locator('.part.sidebar, .part.auxiliarybar, .part.panel', {
      has: this.page.locator('.composite.title .title-label', { hasText: titled }),
    });
    return pane.or(part).first();
  }

  /** The labels of the visible rows of a tree or list view, by the view's title. */
  async treeRows(viewTitle: string): Promise<string[]> {
    const rows = this.pane(viewTitle).locator('.monaco-list-row');
    const labels = await rows.evaluateAll((elements) =>
      (elements as unknown as DomElement[]).map((e) => e.getAttribute('aria-label') ?? e.textContent ?? ''),
    );
    return labels.map(normalise);
  }

  /** Waits for a row of a view whose label contains the text, and returns it. */
  async waitForTreeRow(viewTitle: string, text: string | RegExp, timeoutMs = 20_000): Promise<Locator> {
    const row = this.pane(viewTitle).locator('.monaco-list-row', { hasText: text }).first();
    await row.waitFor({ state: 'visible', timeout: timeoutMs }).catch(async () => {
      const rows = await this.treeRows(viewTitle).catch(() => []);
      throw new Error(
        `no row ${String(text)} in the view "${viewTitle}" within ${timeoutMs / 1000} s (rows: ${rows.length > 0 ? rows.join(' | ') : 'none'})`,
      );
    });
    return row;
  }

  /**
   * Waits for a row anywhere in the side bar whose text (label and description) matches. A tree
   * view whose rows have descriptions may show no title in its header, so rows are looked up in
   * the side bar as a whole.
   */
  async waitForSideBarRow(text: string | RegExp, timeoutMs = 20_000): Promise<Locator> {
    const row = this.page.locator('.part.sidebar .monaco-list-row', { hasText: text }).first();
    await row.waitFor({ state: 'visible', timeout: timeoutMs }).catch(async () => {
      const rows = await this.page
        .locator('.part.sidebar .monaco-list-row')
        .evaluateAll((elements) => (elements as unknown as DomElement[]).map((e) => e.textContent ?? ''))
        .catch(() => [] as string[]);
      throw new Error(`no side bar row ${String(text)} within ${timeoutMs / 1000} s (rows: ${rows.length > 0 ? rows.map(normalise).join(' | ') : 'none'})`);
    });
    return row;
  }

  /**
   * Expands a side bar row and waits for a child row. A tree that refreshes while the twistie is
   * clicked (a message arriving in the Local Inbox) may draw the row again collapsed, so a person
   * (and this helper) expands it again.
   */
  async expandSideBarRow(row: string | RegExp, child: string | RegExp, timeoutMs = 20_000): Promise<Locator> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parent = await this.waitForSideBarRow(row, Math.max(1000, deadline - Date.now()));
      await this.expandRow(parent);
      const shown = await this.waitForSideBarRow(child, 3000).catch(() => undefined);
      if (shown) return shown;
      if (Date.now() > deadline) return this.waitForSideBarRow(child, 1000);
      // A refresh of the view while the row was being expanded can leave it open with no children
      // drawn (seen once in flow p): collapse it, so the next round expands it afresh.
      const again = await this.waitForSideBarRow(row, 1000).catch(() => undefined);
      if (again && (await again.getAttribute('aria-expanded')) === 'true') await again.locator('.monaco-tl-twistie').click().catch(() => undefined);
    }
  }

  /** Drags the side bar's edge so that it is `width` pixels wide (for views whose rows are long). */
  async widenSideBar(width: number): Promise<void> {
    const box = await this.page.locator('.part.sidebar').first().boundingBox();
    if (box === null) throw new Error('no side bar to widen');
    const y = box.y + box.height / 2;
    await this.page.mouse.move(box.x + box.width - 1, y);
    await this.page.mouse.down();
    await this.page.mouse.move(box.x + width, y, { steps: 8 });
    await this.page.mouse.up();
  }

  /** Hovers over an element and returns the text of the hover (a tree item's tooltip) once it shows. */
  async hoverText(target: Locator, text: string | RegExp, timeoutMs = 10_000): Promise<string> {
    // A hover starts when the pointer arrives: move it away first (it may rest there after a click).
    await this.page.mouse.move(1, 1);
    await target.hover();
    const hover = this.page.locator('.workbench-hover, .monaco-hover', { hasText: text }).first();
    await hover.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
      throw new Error(`no hover with ${String(text)} within ${timeoutMs / 1000} s`);
    });
    return normalise(await hover.innerText());
  }

  /** Expands a collapsed tree row (clicking its twistie); does nothing when it is expanded or a leaf. */
  async expandRow(row: Locator): Promise<void> {
    if ((await row.getAttribute('aria-expanded')) === 'false') await row.locator('.monaco-tl-twistie').click();
  }

  /** Opens the Problems panel and returns its rows. */
  async problems(timeoutMs = 10_000): Promise<ProblemRow[]> {
    const panel = this.page.locator('.markers-panel');
    if (!(await panel.isVisible())) {
      await this.focusWorkbench();
      await this.page.keyboard.press('Control+Shift+M');
      await panel.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
        throw new Error(`the Problems panel did not open within ${timeoutMs / 1000} s`);
      });
    }
    const rows = panel.locator('.monaco-list-row');
    const items = await rows.evaluateAll((elements) =>
      (elements as unknown as DomElement[]).map((e) => ({ label: e.getAttribute('aria-label') ?? '', text: e.textContent ?? '' })),
    );
    return items.map((item) => ({ label: normalise(item.label), text: normalise(item.text) }));
  }

  /** Waits until a row of the Problems panel contains the text. */
  async waitForProblem(text: string | RegExp, timeoutMs = 20_000): Promise<ProblemRow> {
    let last: ProblemRow[] = [];
    return poll(
      async () => {
        last = await this.problems(timeoutMs);
        return last.find((row) => (typeof text === 'string' ? `${row.label} ${row.text}`.includes(text) : text.test(`${row.label} ${row.text}`)));
      },
      timeoutMs,
      () => `no problem ${String(text)} in the Problems panel within ${timeoutMs / 1000} s (rows: ${last.map((r) => r.label || r.text).join(' | ') || 'none'})`,
    );
  }

  // --- Webviews -----------------------------------------------------------------------------

  /** The text of every webview's inner document (iframe.webview → #active-frame). */
  async webviewTexts(): Promise<string[]> {
    const count = await this.page.locator('iframe.webview').count();
    const texts: string[] = [];
    for (let i = 0; i < count; i++) {
      const body = this.page.frameLocator('iframe.webview').nth(i).frameLocator('#active-frame').locator('body');
      const text = await body.innerText({ timeout: 2000 }).catch(() => undefined);
      if (text !== undefined) texts.push(text);
    }
    return texts;
  }

  /** Waits until some webview's document contains the text (or matches), and returns that text. */
  async waitForWebviewText(text: string | RegExp, timeoutMs = 20_000): Promise<string> {
    let seen: string[] = [];
    let frames = 0;
    return poll(
      async () => {
        frames = await this.page.locator('iframe.webview').count();
        seen = await this.webviewTexts();
        return seen.find((t) => (typeof text === 'string' ? t.includes(text) : text.test(t)));
      },
      timeoutMs,
      () =>
        frames === 0
          ? `no webview within ${timeoutMs / 1000} s (expected one showing ${String(text)})`
          : seen.length === 0
            ? `${frames} webview(s) open but none loaded its document (no #active-frame) within ${timeoutMs / 1000} s; expected one showing ${String(text)}`
            : `no webview showing ${String(text)} within ${timeoutMs / 1000} s (webviews show: ${seen.map((t) => JSON.stringify(t.slice(0, 200))).join(', ')})`,
    );
  }

  /** The body (inside its #active-frame) of the first webview whose text matches, once one does. */
  async webviewBody(text: string | RegExp, timeoutMs = 20_000): Promise<Locator> {
    await this.waitForWebviewText(text, timeoutMs);
    const count = await this.page.locator('iframe.webview').count();
    for (let i = 0; i < count; i++) {
      const body = this.page.frameLocator('iframe.webview').nth(i).frameLocator('#active-frame').locator('body');
      const inner = await body.innerText({ timeout: 2000 }).catch(() => undefined);
      if (inner !== undefined && (typeof text === 'string' ? inner.includes(text) : text.test(inner))) return body;
    }
    throw new Error(`no webview showing ${String(text)}`);
  }

  /**
   * Runs a function on the body of the first webview whose text matches (inside its
   * #active-frame), e.g. to measure the layout a user sees.
   */
  async evaluateInWebview<T>(text: string | RegExp, fn: (body: unknown) => T, timeoutMs = 20_000): Promise<T> {
    return (await this.webviewBody(text, timeoutMs)).evaluate(fn);
  }

  /** Clicks an element (by CSS selector) in the first webview whose text matches. */
  async clickInWebview(text: string | RegExp, selector: string, timeoutMs = 20_000): Promise<void> {
    await (await this.webviewBody(text, timeoutMs)).locator(selector).first().click({ timeout: timeoutMs });
  }

  // --- Notifications and dialogs --------------------------------------------------------------

  /** The messages of the visible notification toasts. */
  async notifications(): Promise<string[]> {
    const messages = this.page.locator('.notifications-toasts .notification-list-item-message');
    return (await messages.allInnerTexts()).map(normalise);
  }

  /** Waits for a notification whose message matches. */
  async waitForNotification(text: string | RegExp, timeoutMs = 15_000): Promise<string> {
    let seen: string[] = [];
    return poll(
      async () => {
        seen = await this.notifications();
        return seen.find((m) => (typeof text === 'string' ? m.includes(text) : text.test(m)));
      },
      timeoutMs,
      () => `no notification ${String(text)} within ${timeoutMs / 1000} s (shown: ${seen.join(' | ') || 'none'})`,
    );
  }

  /**
   * Answers the open quick input (an input box the extension shows): checks that its title or
   * prompt matches, types the text (replacing any proposed value) and presses Enter. The input
   * must be the widget at the top of the window, never a notification.
   */
  async answerInput(expected: string | RegExp, text: string, timeoutMs = 15_000): Promise<void> {
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('input').first();
    let seen = '';
    await poll(
      async () => {
        if (!(await widget.isVisible().catch(() => false))) return undefined;
        seen = normalise(await widget.innerText({ timeout: 1000 }).catch(() => ''));
        return (typeof expected === 'string' ? seen.includes(expected) : expected.test(seen)) ? true : undefined;
      },
      timeoutMs,
      () => `no input ${String(expected)} within ${timeoutMs / 1000} s (the quick input shows: ${seen || 'nothing'})`,
    );
    await input.fill(text);
    await this.page.keyboard.press('Enter');
  }

  /**
   * Waits for an open quick pick whose title matches and returns its title and the text of its
   * visible rows (labels, descriptions and details; separators' headings included).
   */
  async waitForQuickPick(title: string | RegExp, timeoutMs = 15_000): Promise<{ title: string; rows: string[] }> {
    const widget = this.page.locator('.quick-input-widget');
    const titleBar = widget.locator('.quick-input-title');
    await poll(
      async () => {
        const shown = normalise((await titleBar.innerText({ timeout: 500 }).catch(() => '')) ?? '');
        return (typeof title === 'string' ? shown.includes(title) : title.test(shown)) ? true : undefined;
      },
      timeoutMs,
      `no quick pick titled ${String(title)} within ${timeoutMs / 1000} s`,
    );
    const rows = await widget.locator('.quick-input-list .monaco-list-row').evaluateAll((elements) => (elements as unknown as DomElement[]).map((e) => e.textContent ?? ''));
    return { title: normalise(await titleBar.innerText()), rows: rows.map(normalise) };
  }

  /** Picks the item with this label in the open quick pick (typing it as the filter first). */
  async pickQuickItem(label: string, timeoutMs = 15_000): Promise<void> {
    const input = this.page.locator('.quick-input-widget input').first();
    await input.waitFor({ state: 'visible', timeout: timeoutMs });
    await input.fill(label);
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    await row.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
      throw new Error(`no item "${label}" in the quick pick within ${timeoutMs / 1000} s`);
    });
    await row.click();
  }

  /** Clicks the status bar item whose text matches. */
  async clickStatusBarItem(text: string | RegExp, timeoutMs = 15_000): Promise<void> {
    const item = this.page.locator('.part.statusbar .statusbar-item', { hasText: text }).first();
    await item.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
      throw new Error(`no status bar item ${String(text)} within ${timeoutMs / 1000} s`);
    });
    await item.locator('a, .statusbar-item-label').first().click();
  }

  /** Waits until a status bar item's text matches. */
  async waitForStatusBarItem(text: string | RegExp, timeoutMs = 15_000): Promise<void> {
    await this.page
      .locator('.part.statusbar .statusbar-item', { hasText: text })
      .first()
      .waitFor({ state: 'visible', timeout: timeoutMs })
      .catch(() => {
        throw new Error(`no status bar item ${String(text)} within ${timeoutMs / 1000} s`);
      });
  }

  /** Answers a modal dialog whose text matches by clicking the button with this label. */
  async answerDialog(text: string | RegExp, button: string | RegExp, timeoutMs = 15_000): Promise<void> {
    const dialog = this.page.locator('.monaco-dialog-box', { hasText: text });
    await dialog.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
      throw new Error(`no dialog ${String(text)} within ${timeoutMs / 1000} s`);
    });
    await dialog.locator('.monaco-button', { hasText: button }).first().click({ timeout: timeoutMs });
    await dialog.waitFor({ state: 'hidden', timeout: timeoutMs });
  }

  /** The number of editor groups (columns) the window shows. */
  async editorGroups(): Promise<number> {
    return this.page.locator('.editor-group-container').count();
  }

  /** Waits for the workspace trust modal that an untrusted folder shows at startup. */
  async waitForTrustDialog(timeoutMs = 20_000): Promise<Locator> {
    const dialog = this.page.locator('.monaco-dialog-box', { hasText: /trust/i });
    await dialog.waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
      throw new Error(`no workspace trust dialog within ${timeoutMs / 1000} s (was code-server started with trusted: false?)`);
    });
    return dialog;
  }

  /**
   * Answers the workspace trust modal that an untrusted folder shows at startup: accept clicks
   * "Yes, I trust the authors", decline clicks "No, I don't trust the authors".
   */
  async answerTrustDialog(accept: boolean, timeoutMs = 20_000): Promise<void> {
    const dialog = await this.waitForTrustDialog(timeoutMs);
    const label = accept ? /Yes, I trust/i : /No, I don.t trust/i;
    await dialog.locator('.monaco-button', { hasText: label }).first().click({ timeout: timeoutMs });
    await dialog.waitFor({ state: 'hidden', timeout: timeoutMs });
  }

  /** Appends a line to <artifacts>/<name>.log (for notes a test wants to keep). */
  note(line: string): void {
    appendFileSync(join(artifactsDir(), `${this.name}.log`), `${new Date().toISOString()} ${line}\n`);
  }
}
