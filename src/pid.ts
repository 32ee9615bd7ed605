// Whether a process on this host still runs: decides that a lock or a temporary file is stale.
import { readFileSync } from 'node:fs';

/** Linux reports process start times in clock ticks, USER_HZ, which is 100 on every Linux build that matters. */
const ticksPerSecond = 100;
/** Start times are known to a tick, lock times are taken a moment after the start: allow for both. */
const startSlackMs = 2000;

/** When process `pid` started (ms since the epoch), where /proc tells; undefined elsewhere. */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces: fields are counted after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSeconds)) return undefined;
    return bootSeconds * 1000 + (startTicks / ticksPerSecond) * 1000;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` runs. With `since` (when the process being asked about wrote its lock),
 * a process with that pid started later is another one that reused the number.
 */
export function processAlive(pid: number, since?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const sinceMs = since === undefined ? Number.NaN : Date.parse(since);
  if (Number.isNaN(sinceMs)) return true;
  const started = processStartMs(pid);
  return started === undefined || started <= sinceMs + startSlackMs;
}
