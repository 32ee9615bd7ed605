import { describe, expect, it } from 'vitest';
import { describeScheduledTime } from '../../commands/schedule-time.js';

describe('describeScheduledTime', () => {
  const at = new Date('2026-12-02T01:00:00.000Z');

  it('gives local time with the zone, and UTC beside it', () => {
    expect(describeScheduledTime(at, 'Europe/Paris')).toBe('2026-12-02 02:00 Europe/Paris (01:00 UTC)');
    expect(describeScheduledTime(new Date('2026-07-02T00:00:00.000Z'), 'Europe/Paris')).toBe('2026-07-02 02:00 Europe/Paris (00:00 UTC)');
  });

  it('names the UTC date when it is another day', () => {
    expect(describeScheduledTime(new Date('2026-12-01T17:00:00.000Z'), 'Asia/Tokyo')).toBe('2026-12-02 02:00 Asia/Tokyo (2026-12-01 17:00 UTC)');
  });

  it('says UTC once in UTC, and never when nothing is scheduled', () => {
    expect(describeScheduledTime(at, 'UTC')).toBe('2026-12-02 01:00 UTC');
    expect(describeScheduledTime(null, 'UTC')).toBe('never');
  });
});
