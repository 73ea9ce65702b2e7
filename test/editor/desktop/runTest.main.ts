// Entry point of `npm run test:desktop`: runs the in-editor suite under @vscode/test-electron.
// See runTest.ts; built by scripts/build.mjs into dist-test/test/editor/desktop/runTest.main.js.
import { runDesktopSuite } from './runTest';

runDesktopSuite().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
