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

/**
 * Aliases the IANA Character Sets registry lists for the names above (for example `iso_8859-1`,
 * `ISO_8859-1:1987`, `IBM819` and `csISOLatin1` for ISO-8859-1). Each is a registered name too.
 */
const ALIASES = [
  // US-ASCII.
  'iso-ir-6', 'ansi_x3.4-1986', 'iso_646.irv:1991', 'iso646-us', 'us', 'ibm367', 'cp367', 'csascii',
  // ISO 8859 (each part also as iso_8859-N and iso_8859-N:YEAR, matched below).
  'ibm819', 'cp819', 'iso-ir-101', 'l2', 'csisolatin2', 'iso-ir-109', 'latin3', 'l3', 'csisolatin3', 'iso-ir-110', 'latin4', 'l4',
  'csisolatin4', 'iso-ir-144', 'cyrillic', 'csisolatincyrillic', 'iso-ir-127', 'ecma-114', 'asmo-708', 'arabic', 'csisolatinarabic',
  'iso-ir-126', 'elot_928', 'ecma-118', 'greek', 'greek8', 'csisolatingreek', 'iso-ir-138', 'hebrew', 'csisolatinhebrew', 'iso-ir-148',
  'latin5', 'l5', 'csisolatin5', 'iso-ir-157', 'l6', 'latin6', 'csisolatin6', 'iso-ir-199', 'iso-celtic', 'latin8', 'l8', 'csiso885914',
  'latin-9', 'csiso885915', 'iso-ir-226', 'latin10', 'l10', 'csiso885916', 'csiso885913',
  // Unicode.
  'csutf8', 'csutf16', 'csutf16be', 'csutf16le', 'csutf32', 'csutf7', 'csunicode', 'iso-10646-ucs-4', 'csucs4',
  // Windows and IBM code pages.
  'cswindows1250', 'cswindows1251', 'cswindows1252', 'cswindows1253', 'cswindows1254', 'cswindows1255', 'cswindows1256',
  'cswindows1257', 'cswindows1258', 'cswindows874', 'cspc850multilingual', 'cspc8codepage437', 'csibm866', '437', '850', '866',
  // Cyrillic, Japanese, Korean, Chinese, Thai.
  'cskoi8r', 'cskoi8u', 'csmacintosh', 'csiso2022jp', 'csiso2022jp2', 'csiso2022kr', 'csiso2022cn', 'ms_kanji', 'csshiftjis',
  'extended_unix_code_packed_format_for_japanese', 'cseucpkdfmtjapanese', 'windows-31j', 'cswindows31j', 'iso-ir-149', 'ks_c_5601-1989',
  'ksc_5601', 'korean', 'csksc56011987', 'cseuckr', 'csgb2312', 'iso-ir-58', 'chinese', 'csiso58gb231280', 'gb_2312-80', 'ms936',
  'windows-936', 'csgbk', 'csgb18030', 'csbig5', 'csbig5hkscs', 'cstis620', 'csviscii', 'cshzgb2312',
];
const KNOWN = new Set([...NAMES, ...ALIASES]);

/** True when the name is a registered charset or an accepted alias; `x-` names are private use and accepted. */
export function isKnownCharset(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    KNOWN.has(lower) ||
    lower.startsWith('x-') ||
    /^iso[-_]8859-\d+(:\d{4})?$/.test(lower) ||
    /^latin-?(?:[1-6]|8|9|10)$/.test(lower) ||
    /^csisolatin\d$/.test(lower) ||
    /^windows-\d{3,4}$/.test(lower) ||
    /^cp\d{3,4}$/.test(lower) ||
    /^ibm\d{3,4}$/.test(lower)
  );
}
