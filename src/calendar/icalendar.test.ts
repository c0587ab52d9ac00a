import { describe, expect, it } from 'vitest';
import { escapeText, foldLine, renderCalendar } from './icalendar.js';

/** RFC 5545 3.1 unfolding: a CRLF followed by one space or tab is removed. */
const unfold = (text: string) => text.replace(/\r\n[ \t]/g, '');

describe('iCalendar writer', () => {
  it('escapes TEXT values: backslash, semicolon, comma, newline; drops other control characters', () => {
    expect(escapeText('a\\b;c,d\ne\r\nf\u0007g')).toBe('a\\\\b\\;c\\,d\\ne\\nfg');
  });

  it('folds at 75 octets with CRLF + space, never inside a UTF-8 sequence', () => {
    const line = `DESCRIPTION:${'ä'.repeat(100)}`;
    const folded = foldLine(line);
    for (const physical of folded.split('\r\n')) expect(Buffer.byteLength(physical, 'utf8')).toBeLessThanOrEqual(75);
    expect(unfold(folded)).toBe(line);
    expect(folded).not.toContain('\uFFFD');
    expect(foldLine('SHORT:x')).toBe('SHORT:x');
  });

  it('renders a calendar with CRLF line ends, DATE start and end, a UTC stamp and an alarm', () => {
    const text = renderCalendar({
      name: 'Latchkey: credentials due (acme)',
      stamp: new Date('2026-12-03T10:00:00.000Z'),
      events: [{ uid: 'credential-7@latchkey.example.com', date: '2026-12-31', summary: 'Renew: NPM, publish; token', description: `line one\nline two ${'x'.repeat(120)}`, url: 'https://latchkey.example.com/api/v4/latchkey/credentials/7', alarmDaysBefore: 7 }],
    });
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    for (const physical of text.split('\r\n')) expect(Buffer.byteLength(physical, 'utf8')).toBeLessThanOrEqual(75);
    const lines = unfold(text).split('\r\n');
    expect(lines.slice(0, 3)).toEqual(['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Latchkey//Credential due dates//EN']);
    expect(lines).toContain('UID:credential-7@latchkey.example.com');
    expect(lines).toContain('DTSTAMP:20261203T100000Z');
    expect(lines).toContain('DTSTART;VALUE=DATE:20261231');
    // DTEND of an all-day event is the next day, across a year boundary too.
    expect(lines).toContain('DTEND;VALUE=DATE:20270101');
    expect(lines).toContain('SUMMARY:Renew: NPM\\, publish\\; token');
    expect(lines).toContain(`DESCRIPTION:line one\\nline two ${'x'.repeat(120)}`);
    expect(lines).toContain('TRIGGER:-P7D');
    expect(lines.filter((l) => l.startsWith('BEGIN:')).length).toBe(lines.filter((l) => l.startsWith('END:')).length);
    expect(lines.at(-2)).toBe('END:VCALENDAR');
  });
});
