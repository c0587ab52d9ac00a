/**
 * The expiry e-mail: one message per recipient listing every token they are warned about, as plain text
 * and HTML. Pure: takes described tokens, returns subject and bodies. Never a secret — names, kinds,
 * paths, scopes and dates only.
 */
import type { UtcDate } from '../kernel/dates.js';
import type { NoticeInterval } from './expiry-check.js';

export interface ExpiringTokenItem {
  readonly tokenId: number;
  readonly name: string;
  /** `deploy token`, `personal access token`, `project access token`, `group access token`, `service account token`. */
  readonly kindLabel: string;
  /** Where the token belongs: a project or group full path, or the user it belongs to. */
  readonly where: string;
  readonly scopes: readonly string[];
  readonly expiresAt: UtcDate;
  readonly daysLeft: number;
  readonly interval: NoticeInterval;
  /** The page where it is rotated or replaced. */
  readonly rotateUrl: string;
}

export interface ComposedEmail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

// Names come from users: no control characters in a header or a line of text.
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ');

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function whenText(item: Pick<ExpiringTokenItem, 'interval' | 'daysLeft' | 'expiresAt'>): string {
  if (item.interval === 'expired') return `expired on ${item.expiresAt}`;
  return `expires on ${item.expiresAt} (in ${item.daysLeft} day${item.daysLeft === 1 ? '' : 's'})`;
}

export function composeExpiryEmail(items: readonly ExpiringTokenItem[]): ComposedEmail {
  // Most urgent first: expired, then fewest days left.
  const sorted = [...items].sort((a, b) => a.daysLeft - b.daysLeft || a.tokenId - b.tokenId);
  const expired = sorted.filter((i) => i.interval === 'expired').length;
  let subject: string;
  if (sorted.length === 1) {
    const only = sorted[0]!;
    subject = `[Latchkey] ${only.kindLabel} "${oneLine(only.name)}" ${whenText(only)}`;
  } else if (expired === sorted.length) {
    subject = `[Latchkey] ${sorted.length} tokens have expired`;
  } else {
    subject = `[Latchkey] ${sorted.length} tokens expire soon${expired > 0 ? ` or have expired` : ''}`;
  }

  const intro = 'These tokens you manage in Latchkey expire soon or have expired. Rotate or replace them before the jobs that use them break.';
  const text = [
    'Hello,',
    '',
    intro,
    '',
    ...sorted.flatMap((i) => [
      `* ${oneLine(i.name)} — ${i.kindLabel}, ${oneLine(i.where)}`,
      `  ${whenText(i)}`,
      `  scopes: ${i.scopes.join(', ') || '(none)'}`,
      `  rotate: ${i.rotateUrl}`,
      '',
    ]),
    'You get this e-mail once per token 60, 30 and 7 days before it expires, and once when it has expired.',
    '-- ',
    'Latchkey',
    '',
  ].join('\n');

  const rows = sorted
    .map(
      (i) =>
        `<tr><td><strong>${escapeHtml(oneLine(i.name))}</strong></td><td>${escapeHtml(i.kindLabel)}</td><td>${escapeHtml(oneLine(i.where))}</td>` +
        `<td>${escapeHtml(i.scopes.join(', '))}</td><td>${escapeHtml(whenText(i))}</td><td><a href="${escapeHtml(i.rotateUrl)}">Rotate</a></td></tr>`,
    )
    .join('\n');
  const html = [
    '<!doctype html>',
    '<html><body>',
    `<p>${escapeHtml(intro)}</p>`,
    '<table border="1" cellpadding="4" cellspacing="0">',
    '<thead><tr><th>Token</th><th>Kind</th><th>Where</th><th>Scopes</th><th>Expiry</th><th></th></tr></thead>',
    `<tbody>\n${rows}\n</tbody>`,
    '</table>',
    '<p>You get this e-mail once per token 60, 30 and 7 days before it expires, and once when it has expired.</p>',
    '</body></html>',
    '',
  ].join('\n');
  return { subject, text, html };
}
