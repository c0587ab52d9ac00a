/**
 * An RFC 5545 writer for the due-date feeds: one all-day VEVENT per credential. Pure. The rules that
 * calendar clients are strict about: CRLF line ends, content lines folded at 75 octets (never inside a
 * UTF-8 sequence) with CRLF + one space, TEXT values escaped (backslash, semicolon, comma, newline),
 * DTSTART/DTEND as DATE values, DTSTAMP in UTC, and a UID that stays the same across refreshes (a
 * renewal moves the event instead of adding one).
 */
const CRLF = '\r\n';

/** TEXT escaping (RFC 5545 3.3.11); control characters other than newline are dropped. */
export function escapeText(value: string): string {
  return value
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, '')
    .replace(/\\/g, '\\\\')
    .replace(/;/g, '\\;')
    .replace(/,/g, '\\,')
    .replace(/\n/g, '\\n');
}

/** Folds one content line at 75 octets (RFC 5545 3.1), splitting only between UTF-8 sequences. */
export function foldLine(line: string): string {
  const parts: string[] = [];
  let current = '';
  let octets = 0;
  // The first line holds 75 octets; continuation lines start with a space, so 74 more each.
  let limit = 75;
  for (const ch of line) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (octets + size > limit) {
      parts.push(current);
      current = '';
      octets = 0;
      limit = 74;
    }
    current += ch;
    octets += size;
  }
  parts.push(current);
  return parts.join(`${CRLF} `);
}

/** `2026-12-08` → `20261208` (a DATE value). */
const dateValue = (date: string) => date.replaceAll('-', '');
/** An instant as a UTC DATE-TIME: `20261203T100000Z`. */
const utcValue = (at: Date) => at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const nextDay = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

export interface CalendarEvent {
  /** Stable across refreshes: the same entry is the same event. */
  readonly uid: string;
  /** The all-day date (YYYY-MM-DD). */
  readonly date: string;
  readonly summary: string;
  readonly description: string;
  readonly url: string | null;
  /** A display alarm this many days before (none when null). */
  readonly alarmDaysBefore: number | null;
}

export function renderCalendar(calendar: { name: string; stamp: Date; events: readonly CalendarEvent[] }): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Latchkey//Credential due dates//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-CALNAME:${escapeText(calendar.name)}`,
    // Clients that honour it refresh twice a day.
    'REFRESH-INTERVAL;VALUE=DURATION:PT12H',
    'X-PUBLISHED-TTL:PT12H',
  ];
  for (const e of calendar.events) {
    lines.push(
      'BEGIN:VEVENT',
      `UID:${e.uid}`,
      `DTSTAMP:${utcValue(calendar.stamp)}`,
      `DTSTART;VALUE=DATE:${dateValue(e.date)}`,
      `DTEND;VALUE=DATE:${dateValue(nextDay(e.date))}`,
      `SUMMARY:${escapeText(e.summary)}`,
      `DESCRIPTION:${escapeText(e.description)}`,
      ...(e.url ? [`URL:${e.url}`] : []),
      'TRANSP:TRANSPARENT',
    );
    if (e.alarmDaysBefore !== null) lines.push('BEGIN:VALARM', 'ACTION:DISPLAY', `DESCRIPTION:${escapeText(e.summary)}`, `TRIGGER:-P${e.alarmDaysBefore}D`, 'END:VALARM');
    lines.push('END:VEVENT');
  }
  lines.push('END:VCALENDAR');
  return lines.map(foldLine).join(CRLF) + CRLF;
}
