/**
 * Typed access to the one libmime function used here. libmime ships no type declarations, so the
 * module is loaded with `require` and given the signature from its documentation.
 */
interface LibmimeApi {
  /** Folds a header line at about `lineLength` characters (RFC 5322 §2.2.3). */
  foldLines(text: string, lineLength?: number, afterSpace?: boolean): string;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const libmime = require('libmime') as LibmimeApi;
