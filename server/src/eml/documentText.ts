/**
 * The text of an `.eml` file as the language service sees it. The editor never decodes a message
 * itself: VS Code opens the file with its default encoding (`files.encoding`, UTF-8) and hands the
 * document's text to the language server, so every byte sequence that is not well-formed UTF-8
 * arrives as U+FFFD, one per maximal ill-formed subpart (the WHATWG decoder VS Code uses). The
 * linter reports those characters (`eml-utf8-invalid` in a header, `eml-replacement-char` in a
 * body). `smtpwb lint` reads files through this function so that it decides exactly as the editor
 * does; a byte-order mark is kept as text, so that `eml-bom` can report it.
 */
export function emlDocumentText(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}
