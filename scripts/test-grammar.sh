#!/usr/bin/env bash
# Runs the TextMate grammar tests of test/grammar/ with vscode-tmgrammar-test, and checks that the
# grammars, language configurations and snippets are valid JSON. The grammars are passed with -g
# and the tool is pointed at test/grammar/config.json rather than package.json, so the tests do not
# depend on the extension's `contributes` section. Prints a summary; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

tool=node_modules/.bin/vscode-tmgrammar-test
if [ ! -x "$tool" ]; then
  echo "grammar tests: $tool is missing (run npm ci)" >&2
  exit 2
fi

status=0

# Every JSON file we ship must parse; a broken one silently disables highlighting in VS Code.
json_files=(syntaxes/*.json language-configuration/*.json snippets/*.json)
if ! node -e '
  const fs = require("fs");
  let bad = 0;
  for (const f of process.argv.slice(1)) {
    try { JSON.parse(fs.readFileSync(f, "utf8")); } catch (e) { console.error(`invalid JSON: ${f}: ${e.message}`); bad++; }
  }
  process.exit(bad ? 1 : 0);
' "${json_files[@]}"; then
  status=1
fi

output=$("$tool" --config test/grammar/config.json \
  -g syntaxes/smtp.tmLanguage.json -g syntaxes/eml.tmLanguage.json \
  'test/grammar/**/*.smtp' 'test/grammar/**/*.eml' 2>&1)
tool_status=$?
printf '%s\n' "$output" | grep -v '^npm warn'

passed=$(printf '%s\n' "$output" | grep -c '^✓' || true)
failed=$(printf '%s\n' "$output" | grep -c '^✖' || true)
echo
echo "grammar tests: ${passed} passed, ${failed} failed (${#json_files[@]} JSON files checked)"

if [ "$tool_status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  status=1
fi
exit "$status"
