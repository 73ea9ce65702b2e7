// The suite's guard against leftovers, run by scripts/test-all.sh when the suite ends (passed or
// not): it fails, with a listing, when anything is left in the suite's private temporary folder or
// when a process the suite started is still running, and it ends such processes so that none
// outlives the run.
//
// Usage: node scripts/suite-guard.mjs --tmp DIR --marker ID [--grace-ms 5000] [--outside DIR]
//
// A process belongs to the suite when its environment has SMTPWB_SUITE_ID=ID (test-all.sh exports
// it, and every child inherits it unless it clears its environment) or when its command line names
// the suite's temporary folder (Exim clears its environment, but its -C config lives there).
// With --outside, entries that appeared in DIR (the temporary folder the suite's own one was made
// in, usually /tmp) since the run started are reported as a warning: they come from something that
// ignored TMPDIR, or from another program on the machine. The names DIR held at the start come on
// stdin, one per line.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const value = (name, fallback) => {
  const i = argv.indexOf(name);
  return i === -1 || argv[i + 1] === undefined ? fallback : argv[i + 1];
};
const suiteTmp = value('--tmp');
const marker = value('--marker');
const graceMs = Number(value('--grace-ms', '5000'));
const outside = value('--outside');
if (!suiteTmp || !marker) {
  console.error('usage: node scripts/suite-guard.mjs --tmp DIR --marker ID [--grace-ms MS] [--outside DIR]');
  process.exit(2);
}

/**
 * Shows a file name or command line as a JSON string, so that control characters in it stay
 * visible escapes. (This plain script runs even when the build failed, so it cannot load
 * common/escape.ts; JSON's escaping is enough for names the tests chose.)
 */
const visible = (text) => JSON.stringify(text);

/** This process and its ancestors (the shell running test-all.sh, npm, ...), which are not leftovers. */
function ancestors() {
  const pids = new Set([process.pid]);
  let pid = process.pid;
  for (let i = 0; i < 64 && pid > 1; i++) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // The command name is in parentheses and may hold spaces; the parent pid follows it.
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      pids.add(pid);
    } catch {
      break;
    }
  }
  return pids;
}

/** The processes that belong to the suite, with their command lines. */
function suiteProcesses() {
  const skip = ancestors();
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || skip.has(Number(entry))) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      // Zombies and kernel threads have an empty command line; a zombie is gone but for its entry.
      if (cmdline === '') continue;
      let mine = cmdline.includes(suiteTmp);
      if (!mine) {
        const environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
        mine = environ.split('\0').includes(`SMTPWB_SUITE_ID=${marker}`);
      }
      if (mine) found.push({ pid: Number(entry), cmdline: cmdline.replace(/\0+$/, '').split('\0').join(' ') });
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return found;
}

/** Lists what is left under a folder: each top-level entry with its size and a few of its files. */
function leftoverFiles(dir) {
  const out = [];
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    let size = 0;
    const files = [];
    const walk = (p, depth) => {
      let st;
      try {
        st = statSync(p, { throwIfNoEntry: false });
      } catch {
        return;
      }
      if (st === undefined) {
        try {
          files.push(`${p.slice(path.length + 1)} -> ${readlinkSync(p)}`);
        } catch {
          // Gone already.
        }
        return;
      }
      if (st.isDirectory()) {
        if (depth > 6) return;
        let children = [];
        try {
          children = readdirSync(p);
        } catch {
          return;
        }
        for (const child of children) walk(join(p, child), depth + 1);
      } else {
        size += st.size;
        if (files.length < 5) files.push(p.slice(path.length + 1) || name);
      }
    };
    walk(path, 0);
    out.push({ name, size, files });
  }
  return out;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let failed = false;

// Processes: give the ones that are shutting down a moment, then list and end the rest.
let procs = suiteProcesses();
for (const deadline = Date.now() + graceMs; procs.length > 0 && Date.now() < deadline; procs = suiteProcesses()) await sleep(200);
if (procs.length > 0) {
  failed = true;
  console.log(`suite guard: ${procs.length} process(es) started by the suite are still running:`);
  for (const p of procs) console.log(`  pid ${p.pid}: ${visible(p.cmdline).slice(0, 300)}`);
  for (const signal of ['SIGTERM', 'SIGKILL']) {
    for (const p of suiteProcesses()) {
      try {
        process.kill(p.pid, signal);
      } catch {
        // Gone already.
      }
    }
    await sleep(1000);
  }
  const stubborn = suiteProcesses();
  if (stubborn.length > 0) console.log(`suite guard: could not end ${stubborn.map((p) => p.pid).join(', ')}`);
  else console.log('suite guard: ended them.');
}

// Files left in the suite's temporary folder.
const files = leftoverFiles(suiteTmp);
if (files.length > 0) {
  failed = true;
  console.log(`suite guard: ${files.length} entr${files.length === 1 ? 'y was' : 'ies were'} left in the suite's temporary folder (TMPDIR=${suiteTmp}); the test that creates each must remove it:`);
  for (const f of files) {
    console.log(`  ${visible(f.name)} (${f.size} bytes)${f.files.length > 0 ? `: ${f.files.map(visible).join(', ')}` : ''}`);
  }
}

// Entries that appeared beside the suite's temporary folder: a warning, since other programs on
// the machine may create them too.
if (outside !== undefined) {
  const before = new Set(readFileSync(0, 'utf8').split('\n'));
  let now = [];
  try {
    now = readdirSync(outside);
  } catch {
    // Nothing to compare.
  }
  const suiteName = suiteTmp.slice(suiteTmp.lastIndexOf('/') + 1);
  const fresh = now.filter((name) => !before.has(name) && name !== suiteName).sort();
  if (fresh.length > 0) {
    console.log(`suite guard: warning: ${fresh.length} new entr${fresh.length === 1 ? 'y' : 'ies'} in ${outside} during the run (a test that ignores TMPDIR, or another program):`);
    for (const name of fresh.slice(0, 50)) console.log(`  ${visible(name)}`);
  }
}

if (!failed) console.log('suite guard: no process left running, nothing left in the temporary folder.');
process.exit(failed ? 1 : 0);
