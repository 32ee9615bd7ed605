// When the loop's next scheduled round comes, as a person reads it: local time with the
// zone's name, and UTC beside it, e.g. `2026-12-02 02:00 Europe/Paris (01:00 UTC)`. The
// zone is the process's (TZ when set), the one croner fires in.

function parts(date: Date, timeZone: string): { date: string; time: string } {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const p = Object.fromEntries(format.formatToParts(date).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}` };
}

export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function describeScheduledTime(date: Date | null, timeZone = localTimeZone()): string {
  if (!date) return 'never';
  const local = parts(date, timeZone);
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return `${local.date} ${local.time} UTC`;
  const utc = parts(date, 'UTC');
  return `${local.date} ${local.time} ${timeZone} (${utc.date === local.date ? '' : `${utc.date} `}${utc.time} UTC)`;
}
