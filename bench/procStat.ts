// What /proc says of a running process, for benchmarks that watch a server they started: its CPU
// time so far (user + system, from /proc/PID/stat, fields 14 and 15 of proc(5)) and its memory
// (VmRSS, VmHWM from /proc/PID/status).
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** The user + system CPU time of a process so far, in milliseconds (10 ms resolution). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command's own name may hold spaces and parentheses: the fields after the last ')' start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
  return ((Number(fields[14 - 3]) + Number(fields[15 - 3])) * 1000) / CLOCK_TICKS;
}

/** A process's resident memory (VmRSS) or its peak (VmHWM), in bytes. */
export function processMemory(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}
