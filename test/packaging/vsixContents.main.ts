/**
 * Checks a packaged .vsix against the allow-list of .vscodeignore: it holds only the bundles,
 * grammars, snippets, language settings, JSON schemas, icons, README, LICENSE and CHANGELOG. Prints its size.
 * Usage: node dist-test/test/packaging/vsixContents.main.js [FILE.vsix]
 * (default: smtp-workbench.vsix at the root of the checkout this file is in).
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../peers/require';

const file = process.argv[2] ?? join(repoRoot(), 'smtp-workbench.vsix');
const listing = execFileSync('python3', ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', file], { encoding: 'utf8' });
const entries = listing.split('\n').filter((e) => e && !e.endsWith('/'));
const allowed = [
  /^\[Content_Types\]\.xml$/,
  /^extension\.vsixmanifest$/,
  /^extension\/package\.json$/,
  /^extension\/(readme\.md|README\.md|LICENSE(\.txt)?|changelog\.md|CHANGELOG\.md)$/,
  /^extension\/dist\/(client|server|emlTools|dnsTools|captureTools|languageClientTools)\.js$/,
  /^extension\/syntaxes\/[\w.-]+\.json$/,
  /^extension\/snippets\/[\w.-]+\.json$/,
  /^extension\/language-configuration\/[\w.-]+\.json$/,
  /^extension\/schemas\/[\w.-]+\.schema\.json$/,
  /^extension\/media\/[\w./-]+\.(png|svg|md|css|js)$/,
  /^extension\/client\/src\/views\/media\/[\w./-]+\.(css|js|svg)$/,
];
const unexpected = entries.filter((e) => !allowed.some((re) => re.test(e)));
const required = ['extension/dist/client.js', 'extension/dist/server.js', 'extension/dist/emlTools.js', 'extension/dist/dnsTools.js', 'extension/dist/captureTools.js', 'extension/dist/languageClientTools.js', 'extension/syntaxes/smtp.tmLanguage.json', 'extension/syntaxes/eml.tmLanguage.json', 'extension/schemas/capture-rules.schema.json'];
const missing = required.filter((r) => !entries.includes(r));
const size = statSync(file).size;
console.log(`${file}: ${entries.length} files, ${(size / 1024 / 1024).toFixed(2)} MB (goal ≤ 3 MB: ${size <= 3 * 1024 * 1024 ? 'met' : 'NOT met'})`);
for (const e of entries) console.log(`  ${e}`);
if (unexpected.length > 0) console.error(`unexpected files in the package:\n  ${unexpected.join('\n  ')}`);
if (missing.length > 0) console.error(`missing from the package:\n  ${missing.join('\n  ')}`);
const failed = (unexpected.length > 0 ? 1 : 0) + (missing.length > 0 ? 1 : 0) + (size > 3 * 1024 * 1024 ? 1 : 0);
console.log(`${3 - failed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
