/**
 * Charset names registered with IANA that mail programs use (RFC 2046 §4.1.2 refers to the IANA
 * Character Sets registry), lower-cased, including common aliases.
 */
const NAMES = [
  'us-ascii', 'ascii', 'ansi_x3.4-1968', 'utf-8', 'utf8', 'utf-16', 'utf-16be', 'utf-16le', 'utf-32', 'utf-32be', 'utf-32le', 'utf-7',
  'iso-8859-1', 'iso-8859-2', 'iso-8859-3', 'iso-8859-4', 'iso-8859-5', 'iso-8859-6', 'iso-8859-7', 'iso-8859-8', 'iso-8859-8-i',
  'iso-8859-9', 'iso-8859-10', 'iso-8859-11', 'iso-8859-13', 'iso-8859-14', 'iso-8859-15', 'iso-8859-16', 'latin1', 'l1', 'latin2',
  'windows-1250', 'windows-1251', 'windows-1252', 'windows-1253', 'windows-1254', 'windows-1255', 'windows-1256', 'windows-1257',
  'windows-1258', 'windows-874', 'cp1252', 'cp1251', 'cp1250', 'cp850', 'ibm850', 'cp437', 'ibm437', 'cp866', 'ibm866',
  'koi8-r', 'koi8-u', 'macintosh', 'mac', 'x-mac-roman',
  'iso-2022-jp', 'iso-2022-jp-2', 'iso-2022-kr', 'iso-2022-cn', 'shift_jis', 'shift-jis', 'sjis', 'cp932', 'windows-31j', 'euc-jp',
  'euc-kr', 'ks_c_5601-1987', 'cp949', 'gb2312', 'gbk', 'gb18030', 'big5', 'big5-hkscs', 'cp936', 'hz-gb-2312', 'tis-620', 'viscii',
  'iso-10646-ucs-2', 'ucs-2', 'unknown-8bit', 'unicode-1-1-utf-7', 'iso-ir-100', 'csisolatin1', 'cp1253', 'cp1254', 'cp1255', 'cp1256', 'cp1257', 'cp1258', 'cesu-8', 'scsu', 'bocu-1', 'x-user-defined',
];
const KNOWN = new Set(NAMES);

/** True when the name is a registered charset or an accepted alias; `x-` names are private use and accepted. */
export function isKnownCharset(name: string): boolean {
  const lower = name.toLowerCase();
  return KNOWN.has(lower) || lower.startsWith('x-') || /^iso-8859-\d+$/.test(lower) || /^windows-\d{3,4}$/.test(lower) || /^cp\d{3,4}$/.test(lower);
}
