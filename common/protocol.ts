/**
 * The custom messages between the extension (client) and the language server, typed once and
 * imported by both sides, as vscode-eslint does. Positions are LSP positions (0-based line and
 * UTF-16 character).
 *
 * Each message is its method name with its types, not a `RequestType` of vscode-jsonrpc: the
 * extension's bundle would otherwise carry that library and its protocol definitions (about 290 KB,
 * some 15 ms to evaluate at every activation), which only the language client needs, and that is
 * loaded later (client/src/lazy/languageClientTools.ts).
 */
import type { SessionPlan } from './sessionPlan';

/** A request: its method name, and (for the type checker only) its parameters and result. */
export interface CustomRequest<P, R> {
  readonly method: string;
  /** Never set: carries the types. */
  readonly types?: { params: P; result: R };
}

/** A notification: its method name, and (for the type checker only) its parameters. */
export interface CustomNotification<P> {
  readonly method: string;
  /** Never set: carries the type. */
  readonly types?: { params: P };
}

export interface SessionsParams {
  uri: string;
  /** The script's text, for a file the editor has not opened (the Test Explorer's discovery). */
  text?: string;
}

export interface SessionSummary {
  title: string;
  name?: string;
  index: number;
  /** 0-based lines of the session's first and last line. */
  line: number;
  endLine: number;
  /** True when the session has at least one explicit EXPECT, which makes it a test. */
  hasExpectations: boolean;
  /** Error diagnostics inside the session: a session with errors is not run. */
  errors: number;
}

export interface SessionsResult {
  sessions: SessionSummary[];
}

/** Lists a script's sessions, for CodeLenses and the Test Explorer. */
export const SessionsRequest: CustomRequest<SessionsParams, SessionsResult> = { method: 'smtp/sessions' };

export interface SessionPlanParams {
  uri: string;
  /** The script's text, for a file the editor has not opened. */
  text?: string;
  /** The session that holds this line, or… */
  line?: number;
  /** …the session with this index. */
  index?: number;
}

export interface SessionPlanResult {
  plan?: SessionPlan;
  /** The messages of the error diagnostics that prevent running it. */
  errors: Array<{ line: number; message: string; code: string }>;
}

/** Gives the client the resolved structure of one session, which the client then runs with the engine. */
export const SessionPlanRequest: CustomRequest<SessionPlanParams, SessionPlanResult> = { method: 'smtp/sessionPlan' };

/** Settings the server needs from the client: the names the selected environment defines. */
export interface ServerSettings {
  externalVariables: string[];
  /** The selected environment's values, for hovers (settings are not secret; names that look secret are masked). */
  environment?: Record<string, string>;
}

/** The client tells the server which variables the selected environment defines (so they are not "undefined"). */
export const SettingsNotification: CustomNotification<ServerSettings> = { method: 'smtp/settings' };
