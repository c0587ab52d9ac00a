/**
 * The reminder e-mail about outside credentials: one message per recipient listing each credential
 * due, with its renewal procedure and the placements to update once it is renewed. Pure. Never a
 * secret: names, kinds, owners, dates, procedure text and placement descriptions only.
 */
import { describePlacement, type Credential } from '../inventory/credential.js';
import type { ComposedEmail } from './expiry-email.js';
import type { CredentialInterval } from './credential-notice-store.js';

export interface DueCredentialItem {
  readonly credential: Credential;
  readonly interval: CredentialInterval;
  readonly dueOn: string;
  readonly daysLeft: number;
}

export const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ');
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const inDays = (n: number) => `in ${n} day${n === 1 ? '' : 's'}`;

/** "expires on 2027-01-10 (in 30 days)", "due for renewal on …", "review due on … (renewed during …)". */
export function dueText(item: Pick<DueCredentialItem, 'credential' | 'dueOn' | 'daysLeft'>): string {
  const r = item.credential.renewal;
  if (r.type === 'expires_at') return `expires on ${item.dueOn} (${inDays(item.daysLeft)})`;
  if (r.type === 'every_days') return `due for renewal on ${item.dueOn} (${inDays(item.daysLeft)}; renewed every ${r.everyDays} days)`;
  return `review due on ${item.dueOn} (${inDays(item.daysLeft)}; renewed ${oneLine(r.event)})`;
}

const whatText = (c: Credential) => `${c.kind}${c.provider ? ` on ${c.provider}` : ''}, owned by ${c.owner.fullPath}`;

export function composeCredentialEmail(items: readonly DueCredentialItem[], renewHint: (c: Credential) => string): ComposedEmail {
  const sorted = [...items].sort((a, b) => a.daysLeft - b.daysLeft || a.credential.id - b.credential.id);
  const subject = sorted.length === 1
    ? `[Latchkey] credential "${oneLine(sorted[0]!.credential.name)}" ${dueText(sorted[0]!)}`
    : `[Latchkey] ${sorted.length} credentials are due for renewal soon`;
  const intro = 'These credentials your group keeps in the Latchkey inventory expire or are due for renewal soon. Renew each as its procedure says, update every placement listed, then mark it renewed.';
  const footer = 'You get this e-mail as a Maintainer or Owner of the owning group, once per credential 60, 30 and 7 days before its due date.';
  const text = [
    'Hello,',
    '',
    intro,
    '',
    ...sorted.flatMap(({ credential: c, ...due }) => [
      `* ${oneLine(c.name)} — ${oneLine(whatText(c))}`,
      `  ${dueText({ credential: c, ...due })}`,
      ...(c.purpose ? [`  purpose: ${oneLine(c.purpose)}`] : []),
      '  procedure:',
      ...(c.procedure ?? '(none recorded)').split(/\r?\n/).map((l) => `    ${l}`),
      '  placements to update:',
      ...(c.placements.length === 0 ? ['    (none recorded)'] : c.placements.map((p) => `    - ${oneLine(describePlacement(p))}`)),
      `  when done: ${renewHint(c)}`,
      '',
    ]),
    footer,
    '-- ',
    'Latchkey',
    '',
  ].join('\n');
  const sections = sorted.map(({ credential: c, ...due }) => [
    `<h3>${escapeHtml(oneLine(c.name))}</h3>`,
    `<p>${escapeHtml(whatText(c))}<br><strong>${escapeHtml(dueText({ credential: c, ...due }))}</strong></p>`,
    `<p>Procedure:</p><pre>${escapeHtml(c.procedure ?? '(none recorded)')}</pre>`,
    `<p>Placements to update:</p><ul>${c.placements.length === 0 ? '<li>(none recorded)</li>' : c.placements.map((p) => `<li>${escapeHtml(describePlacement(p))}</li>`).join('')}</ul>`,
    `<p>When done: <code>${escapeHtml(renewHint(c))}</code></p>`,
  ].join('\n'));
  const html = ['<!doctype html>', '<html><body>', `<p>${escapeHtml(intro)}</p>`, ...sections, `<p>${escapeHtml(footer)}</p>`, '</body></html>', ''].join('\n');
  return { subject, text, html };
}
