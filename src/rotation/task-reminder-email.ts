/**
 * The reminder e-mail about open rotation tasks: one message per recipient listing each task still
 * open — the entry, what to update, since when, the renewal procedure and the page where the new
 * secret is revealed and the task checked off. Pure. Never a secret.
 */
import type { Credential } from '../inventory/credential.js';
import { escapeHtml, oneLine } from '../notifications/credential-email.js';
import type { ComposedEmail } from '../notifications/expiry-email.js';
import type { RotationTask } from './rotation-task-store.js';

export interface OpenTaskItem {
  readonly task: RotationTask;
  readonly credential: Credential;
  /** The entry's web page, where the task is checked off and the new secret revealed. */
  readonly url: string;
}

export function composeTaskReminderEmail(items: readonly OpenTaskItem[]): ComposedEmail {
  const sorted = [...items].sort((a, b) => a.task.id - b.task.id);
  const subject = sorted.length === 1
    ? `[Latchkey] rotation of "${oneLine(sorted[0]!.credential.name)}": update ${oneLine(sorted[0]!.task.where)}`
    : `[Latchkey] ${sorted.length} rotation tasks are still open`;
  const intro = 'These credentials were rotated, and the places below only a person can update still hold the old secret. Reveal the new secret on the entry page, paste it there as the procedure says, then mark the task done.';
  const footer = 'You get this e-mail daily as a Maintainer or Owner of the owning group, until each task is marked done.';
  const opened = (t: RotationTask) => `open since ${t.createdAt.slice(0, 10)} (rotation #${t.jobId})`;
  const text = [
    'Hello,',
    '',
    intro,
    '',
    ...sorted.flatMap(({ task, credential: c, url }) => [
      `* ${oneLine(c.name)} (${oneLine(c.kind)}, owned by ${c.owner.fullPath})`,
      `  update: ${oneLine(task.where)}`,
      `  ${opened(task)}`,
      '  procedure:',
      ...(c.procedure ?? '(none recorded)').split(/\r?\n/).map((l) => `    ${l}`),
      `  reveal the new secret and mark it done: ${url}`,
      '',
    ]),
    footer,
    '-- ',
    'Latchkey',
    '',
  ].join('\n');
  const sections = sorted.map(({ task, credential: c, url }) => [
    `<h3>${escapeHtml(oneLine(c.name))}</h3>`,
    `<p>${escapeHtml(`${c.kind}, owned by ${c.owner.fullPath}`)}<br>Update: <strong>${escapeHtml(oneLine(task.where))}</strong><br>${escapeHtml(opened(task))}</p>`,
    `<p>Procedure:</p><pre>${escapeHtml(c.procedure ?? '(none recorded)')}</pre>`,
    `<p><a href="${escapeHtml(url)}">Reveal the new secret and mark it done</a></p>`,
  ].join('\n'));
  const html = ['<!doctype html>', '<html><body>', `<p>${escapeHtml(intro)}</p>`, ...sections, `<p>${escapeHtml(footer)}</p>`, '</body></html>', ''].join('\n');
  return { subject, text, html };
}
