/**
 * What a captured message's id looks like, in a module of its own with no dependencies, so that
 * commands that only name messages (`smtpwb inbox`) check ids without loading the store (and the
 * header decoding it needs).
 */

/** A message id as the store makes them (lower-case letters and digits), and nothing else. */
export const ID_PATTERN = /^[a-z0-9]+$/;
