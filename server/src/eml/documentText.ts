/**
 * The text of an `.eml` file as the language service sees it. The editor never decodes a message
 * itself: VS Code opens the file with its default encoding (`files.encoding`, UTF-8) and hands the
 * document's text to the language server, so every byte sequence that is not well-formed UTF-8
 * arrives as U+FFFD, one per maximal ill-formed subpart (the WHATWG decoder VS Code uses), and a
 * UTF-8 byte-order mark at the start is taken as the encoding ("UTF-8 with BOM") and is not part of
 * the text. The linter reports those characters (`eml-utf8-invalid` in a header,
 * `eml-replacement-char` in a body). `smtpwb lint` reads files through this function so that it
 * decides exactly as the editor does, at the same columns; the mark itself is reported from
 * `startsWithBom` (the `fileStartsWithBom` fact the language server reads from the file on disk).
 */
export function emlDocumentText(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

/** Whether the bytes start with a UTF-8 byte-order mark (EF BB BF). */
export function startsWithBom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}
